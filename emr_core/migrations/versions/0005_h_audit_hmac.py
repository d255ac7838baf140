"""audit chain: re-seal the sha256 chain with HMAC-SHA256 under the key kept outside the database

Revision ID: 0005_h_audit_hmac
Revises: 0004
No schema change: every existing row is checked under its old seal, re-sealed with the key
(SGM_AUDIT_KEY_FILE, created on first use) and the upgrade itself is recorded as an audit event.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import func, select
from sqlalchemy.orm import Session

revision = "0005_h_audit_hmac"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from emr_core.audit_sink import session_sink
    from emr_core.audit_upgrade import reseal_legacy
    from emr_core.models import AuditEvent

    session = Session(bind=op.get_bind())
    if not session.scalar(select(func.count()).select_from(AuditEvent)):
        return  # a new database: nothing sealed yet, and no key needed
    reseal_legacy(session, session_sink(session).key)
    session.flush()


def downgrade() -> None:
    # Rows stay HMAC-sealed: re-sealing them with the forgeable sha256 would only weaken the log,
    # and the older verifier then reports every row as edited, which is the truth about its seal.
    pass
