"""annotation: campaigns, readers, Label Studio projects and tasks, revisions, consolidated findings

Revision ID: 0004
Revises: 0002
Hand-checked: only the tables of emr_core.models_annotation (0003 is an independent branch).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("long_side", sa.Integer(), nullable=False),
        sa.Column("schema_config", sa.JSON(), nullable=False),
        sa.Column("agreement", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_annotation_campaigns_name")),
    )
    op.create_table(
        "annotation_readers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ls_user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_readers")),
        sa.UniqueConstraint("email", name=op.f("uq_annotation_readers_email")),
        sa.UniqueConstraint("ls_user_id", name=op.f("uq_annotation_readers_ls_user_id")),
    )
    op.create_table(
        "reader_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["annotation_campaigns.id"],
            name=op.f("fk_reader_assignments_campaign_id_annotation_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["reader_id"], ["annotation_readers.id"], name=op.f("fk_reader_assignments_reader_id_annotation_readers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_assignments")),
        sa.UniqueConstraint("campaign_id", "role", name=op.f("uq_reader_assignments_campaign_id")),
        sa.UniqueConstraint("ls_project_id", name=op.f("uq_reader_assignments_ls_project_id")),
    )
    with op.batch_alter_table("reader_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reader_assignments_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reader_assignments_reader_id"), ["reader_id"], unique=False)

    op.create_table(
        "blinding_violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("ls_annotation_id", sa.Integer(), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["reader_assignments.id"],
            name=op.f("fk_blinding_violations_assignment_id_reader_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["annotation_campaigns.id"],
            name=op.f("fk_blinding_violations_campaign_id_annotation_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blinding_violations")),
        sa.UniqueConstraint(
            "assignment_id", "ls_annotation_id", "kind", name=op.f("uq_blinding_violations_assignment_id")
        ),
    )
    with op.batch_alter_table("blinding_violations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blinding_violations_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_blinding_violations_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "campaign_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("laterality", sa.String(length=1), nullable=False),
        sa.Column("cc_instance_id", sa.Integer(), nullable=False),
        sa.Column("mlo_instance_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("discordance", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["annotation_campaigns.id"],
            name=op.f("fk_campaign_tasks_campaign_id_annotation_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["cc_instance_id"], ["instances.id"], name=op.f("fk_campaign_tasks_cc_instance_id_instances")
        ),
        sa.ForeignKeyConstraint(
            ["mlo_instance_id"], ["instances.id"], name=op.f("fk_campaign_tasks_mlo_instance_id_instances")
        ),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_campaign_tasks_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_tasks")),
        sa.UniqueConstraint("campaign_id", "study_id", "laterality", name=op.f("uq_campaign_tasks_campaign_id")),
    )
    with op.batch_alter_table("campaign_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_tasks_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_tasks_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_tasks_study_id"), ["study_id"], unique=False)

    op.create_table(
        "annotation_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("campaign_task_id", sa.Integer(), nullable=False),
        sa.Column("ls_annotation_id", sa.Integer(), nullable=False),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("ls_updated_at", sa.String(length=40), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("result_sha256", sa.String(length=64), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column(
            "pulled_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["reader_assignments.id"],
            name=op.f("fk_annotation_revisions_assignment_id_reader_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_task_id"],
            ["campaign_tasks.id"],
            name=op.f("fk_annotation_revisions_campaign_task_id_campaign_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_revisions")),
        sa.UniqueConstraint("ls_annotation_id", "result_sha256", name=op.f("uq_annotation_revisions_ls_annotation_id")),
    )
    with op.batch_alter_table("annotation_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotation_revisions_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_annotation_revisions_campaign_task_id"), ["campaign_task_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_annotation_revisions_ls_annotation_id"), ["ls_annotation_id"], unique=False
        )

    op.create_table(
        "consolidated_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_uid", sa.String(length=64), nullable=False),
        sa.Column("campaign_task_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("laterality", sa.String(length=1), nullable=False),
        sa.Column("finding_type", sa.String(length=40), nullable=False),
        sa.Column("birads", sa.String(length=2), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("cc_instance_id", sa.Integer(), nullable=True),
        sa.Column("cc_xmin", sa.Double(), nullable=True),
        sa.Column("cc_ymin", sa.Double(), nullable=True),
        sa.Column("cc_xmax", sa.Double(), nullable=True),
        sa.Column("cc_ymax", sa.Double(), nullable=True),
        sa.Column("mlo_instance_id", sa.Integer(), nullable=True),
        sa.Column("mlo_xmin", sa.Double(), nullable=True),
        sa.Column("mlo_ymin", sa.Double(), nullable=True),
        sa.Column("mlo_xmax", sa.Double(), nullable=True),
        sa.Column("mlo_ymax", sa.Double(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "consolidated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_task_id"],
            ["campaign_tasks.id"],
            name=op.f("fk_consolidated_findings_campaign_task_id_campaign_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["cc_instance_id"], ["instances.id"], name=op.f("fk_consolidated_findings_cc_instance_id_instances")
        ),
        sa.ForeignKeyConstraint(
            ["mlo_instance_id"], ["instances.id"], name=op.f("fk_consolidated_findings_mlo_instance_id_instances")
        ),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_consolidated_findings_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consolidated_findings")),
        sa.UniqueConstraint("finding_uid", name=op.f("uq_consolidated_findings_finding_uid")),
    )
    with op.batch_alter_table("consolidated_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consolidated_findings_campaign_task_id"), ["campaign_task_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consolidated_findings_study_id"), ["study_id"], unique=False)

    op.create_table(
        "consolidated_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_task_id", sa.Integer(), nullable=False),
        sa.Column("composition", sa.String(length=1), nullable=False),
        sa.Column("assessment", sa.String(length=2), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("revision_ids", sa.JSON(), nullable=False),
        sa.Column(
            "consolidated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_task_id"],
            ["campaign_tasks.id"],
            name=op.f("fk_consolidated_reads_campaign_task_id_campaign_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consolidated_reads")),
        sa.UniqueConstraint("campaign_task_id", name=op.f("uq_consolidated_reads_campaign_task_id")),
    )
    op.create_table(
        "label_studio_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("campaign_task_id", sa.Integer(), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["reader_assignments.id"],
            name=op.f("fk_label_studio_tasks_assignment_id_reader_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_task_id"],
            ["campaign_tasks.id"],
            name=op.f("fk_label_studio_tasks_campaign_task_id_campaign_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_studio_tasks")),
        sa.UniqueConstraint("assignment_id", "campaign_task_id", name=op.f("uq_label_studio_tasks_assignment_id")),
        sa.UniqueConstraint("ls_task_id", name=op.f("uq_label_studio_tasks_ls_task_id")),
    )
    with op.batch_alter_table("label_studio_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_studio_tasks_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_label_studio_tasks_campaign_task_id"), ["campaign_task_id"], unique=False)


def downgrade() -> None:
    # Children first; dropping a table drops its indexes.
    op.drop_table("label_studio_tasks")
    op.drop_table("consolidated_reads")
    op.drop_table("consolidated_findings")
    op.drop_table("annotation_revisions")
    op.drop_table("campaign_tasks")
    op.drop_table("blinding_violations")
    op.drop_table("reader_assignments")
    op.drop_table("annotation_readers")
    op.drop_table("annotation_campaigns")
