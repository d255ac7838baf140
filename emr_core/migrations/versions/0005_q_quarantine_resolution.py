"""quarantine resolution: a quarantined file can be re-ingested or dismissed, by whom, when and why

Revision ID: 0005_q_quarantine_resolution
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_q_quarantine_resolution"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql")


def upgrade() -> None:
    # Nullable columns: existing rows are unresolved, and no server default is needed on MySQL.
    with op.batch_alter_table("quarantined_files") as batch:
        batch.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("resolved_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.String(length=500), nullable=True))
        batch.create_index(batch.f("ix_quarantined_files_resolution"), ["resolution"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantined_files") as batch:
        batch.drop_index(batch.f("ix_quarantined_files_resolution"))
        batch.drop_column("resolution_note")
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
        batch.drop_column("resolution")
