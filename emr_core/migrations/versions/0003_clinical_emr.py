"""clinical EMR: users and tokens, search keys, merges, forms, files, exam reports, tasks

Only the tables of emr_core.models_clinical (hand-checked after autogenerate).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:37:14.709714
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("json_schema", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_templates")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_form_templates_name")),
    )
    with op.batch_alter_table("form_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_templates_name"), ["name"], unique=False)

    op.create_table(
        "patient_name_tokens",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "position", name=op.f("pk_patient_name_tokens")),
    )
    with op.batch_alter_table("patient_name_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_patient_name_tokens_token_patient", ["token", "patient_id"], unique=False)

    op.create_table(
        "patient_search_keys",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("folded_name", sa.String(length=200), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_search_keys")),
    )
    with op.batch_alter_table("patient_search_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_search_keys_folded_name"), ["folded_name"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "form_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_form_submissions_patient_id_patients")),
        sa.ForeignKeyConstraint(
            ["template_id"], ["form_templates.id"], name=op.f("fk_form_submissions_template_id_form_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submissions")),
    )
    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_submissions_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_submissions_template_id"), ["template_id"], unique=False)

    op.create_table(
        "patient_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_patient_files_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_files")),
    )
    with op.batch_alter_table("patient_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_files_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "patient_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_patient_id", sa.Integer(), nullable=False),
        sa.Column("target_patient_id", sa.Integer(), nullable=False),
        sa.Column("merged_by", sa.String(length=64), nullable=False),
        sa.Column(
            "merged_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_patient_id"], ["patients.id"], name=op.f("fk_patient_merges_source_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["target_patient_id"], ["patients.id"], name=op.f("fk_patient_merges_target_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_merges")),
        sa.UniqueConstraint("source_patient_id", name=op.f("uq_patient_merges_source_patient_id")),
    )
    with op.batch_alter_table("patient_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_merges_target_patient_id"), ["target_patient_id"], unique=False)

    op.create_table(
        "exam_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("assessment", sa.String(length=4), nullable=False),
        sa.Column("composition", sa.String(length=1), nullable=True),
        sa.Column("impression", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_exam_reports_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_reports")),
    )
    with op.batch_alter_table("exam_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exam_reports_study_id"), ["study_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("parent_task_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_role", sa.String(length=32), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "closed_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["assignee_user_id"], ["users.id"], name=op.f("fk_tasks_assignee_user_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_tasks_patient_id_patients")),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_tasks_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("source_key", name=op.f("uq_tasks_source_key")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_assignee_role"), ["assignee_role"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_assignee_user_id"), ["assignee_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_due_date"), ["due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_parent_task_id"), ["parent_task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_study_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_patient_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_parent_task_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_kind"))
        batch_op.drop_index(batch_op.f("ix_tasks_due_date"))
        batch_op.drop_index(batch_op.f("ix_tasks_assignee_user_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_assignee_role"))

    op.drop_table("tasks")
    with op.batch_alter_table("exam_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_reports_study_id"))

    op.drop_table("exam_reports")
    with op.batch_alter_table("patient_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_merges_target_patient_id"))

    op.drop_table("patient_merges")
    with op.batch_alter_table("patient_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_files_sha256"))
        batch_op.drop_index(batch_op.f("ix_patient_files_patient_id"))

    op.drop_table("patient_files")
    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_submissions_template_id"))
        batch_op.drop_index(batch_op.f("ix_form_submissions_patient_id"))

    op.drop_table("form_submissions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    with op.batch_alter_table("patient_search_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_search_keys_folded_name"))

    op.drop_table("patient_search_keys")
    with op.batch_alter_table("patient_name_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_name_tokens_token_patient")

    op.drop_table("patient_name_tokens")
    with op.batch_alter_table("form_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_templates_name"))

    op.drop_table("form_templates")
