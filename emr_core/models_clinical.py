"""Typed SQLAlchemy models of the clinical EMR: users, search keys, forms, files, reports, tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from emr_core.enums import TaskStatus
from emr_core.models import Base, Timestamp, utcnow


class User(Base):
    """A person using the API, with one role; the password is stored only as a scrypt hash."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ApiToken(Base):
    """A bearer token; only its sha256 is stored, so a leaked table grants nothing."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PatientSearchKey(Base):
    """The folded (diacritics-free, lower-case) full name of a patient, as indexed for search."""

    __tablename__ = "patient_search_keys"
    # No foreign key: this is derived data, and must never block the linker deleting a patient.
    patient_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    folded_name: Mapped[str] = mapped_column(String(200), index=True)
    source_name: Mapped[str] = mapped_column(String(200), default="")


class PatientNameToken(Base):
    """One folded name word of a patient; (token, patient) is indexed for prefix search."""

    __tablename__ = "patient_name_tokens"
    __table_args__ = (Index("ix_patient_name_tokens_token_patient", "token", "patient_id"),)
    patient_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(64))


class PatientMerge(Base):
    """Two patient records found to be one person: what moved from source to target, and who."""

    __tablename__ = "patient_merges"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    target_patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    merged_by: Mapped[str] = mapped_column(String(64))
    merged_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    moved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FormTemplate(Base):
    """One version of a clinical form, defined as JSON Schema; versions are never edited."""

    __tablename__ = "form_templates"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class FormSubmission(Base):
    """A filled form, validated against the exact template version it points at."""

    __tablename__ = "form_submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("form_templates.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class PatientFile(Base):
    """A document attached to a patient; the bytes live in content-addressed storage."""

    __tablename__ = "patient_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32), default="other")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ExamReport(Base):
    """The radiologist's assessment of one study; the newest row per study is the current one."""

    __tablename__ = "exam_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    assessment: Mapped[str] = mapped_column(String(4))
    composition: Mapped[str | None] = mapped_column(String(1))
    impression: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="api")
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Task(Base):
    """A clinical to-do; rule-made tasks carry a unique source key so re-runs update, not add."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"), index=True)
    # A plain column, not a foreign key: MySQL checks self-references row by row on bulk deletes.
    parent_task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN.value, index=True)
    assignee_role: Mapped[str] = mapped_column(String(32), default="", index=True)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64), default="")
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_by: Mapped[str] = mapped_column(String(64), default="")
