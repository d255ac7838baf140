"""model predictions: one model version's answer per study (done or failed, with the reason) and its boxes per image

Joins the three 0005 heads.

Revision ID: 0006_model_predictions
Revises: 0005_g_reading_schemes, 0005_h_audit_hmac, 0005_q_quarantine_resolution
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006_model_predictions"
down_revision = ("0005_g_reading_schemes", "0005_h_audit_hmac", "0005_q_quarantine_resolution")
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql")


def upgrade() -> None:
    op.create_table(
        "study_inferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("exam_score", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_study_inferences_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_inferences")),
        sa.UniqueConstraint("study_id", "model_name", "model_version", name=op.f("uq_study_inferences_study_id")),
    )
    with op.batch_alter_table("study_inferences") as batch:
        batch.create_index(batch.f("ix_study_inferences_study_id"), ["study_id"], unique=False)
        batch.create_index(batch.f("ix_study_inferences_model_name"), ["model_name"], unique=False)
        batch.create_index(batch.f("ix_study_inferences_status"), ["status"], unique=False)
    op.create_table(
        "model_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_inference_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("image_score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_inference_id"],
            ["study_inferences.id"],
            name=op.f("fk_model_predictions_study_inference_id_study_inferences"),
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_model_predictions_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_predictions")),
        sa.UniqueConstraint("study_inference_id", "instance_id", name=op.f("uq_model_predictions_study_inference_id")),
    )
    with op.batch_alter_table("model_predictions") as batch:
        batch.create_index(batch.f("ix_model_predictions_study_inference_id"), ["study_inference_id"], unique=False)
        batch.create_index(batch.f("ix_model_predictions_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    op.drop_table("model_predictions")
    op.drop_table("study_inferences")
