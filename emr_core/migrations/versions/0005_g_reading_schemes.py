"""reading schemes: the scheme and phase of each annotation campaign (enforced by the reading gateway)

Revision ID: 0005_g_reading_schemes
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_g_reading_schemes"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("annotation_campaigns") as batch:
        batch.add_column(sa.Column("scheme", sa.String(length=32), nullable=False, server_default="blind_double"))
        batch.add_column(sa.Column("phase", sa.String(length=16), nullable=False, server_default="reading"))


def downgrade() -> None:
    with op.batch_alter_table("annotation_campaigns") as batch:
        batch.drop_column("phase")
        batch.drop_column("scheme")
