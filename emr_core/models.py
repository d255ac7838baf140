"""Typed SQLAlchemy 2 models of the EMR: patients, DICOM index, ledger, link decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UID = String(64)  # DICOM UIDs are at most 64 characters
# Explicit MySQL types: importing Dagster re-compiles plain DateTime/Float for MySQL (DATETIME(6),
# FLOAT(32) = DOUBLE), so the schema would depend on which process ran the migration.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Patient(Base):
    """A person known to the EMR; provisional when created from a DICOM header alone."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    name_key: Mapped[str] = mapped_column(String(200), default="", index=True)
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    sex: Mapped[str | None] = mapped_column(String(1))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        back_populates="patient", lazy="raise", cascade="all, delete-orphan"
    )


class PatientIdentifier(Base):
    """An identifier value, unique only within its issuer ('' when the issuer is unknown)."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("value", "issuer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    value: Mapped[str] = mapped_column(String(64), index=True)
    issuer: Mapped[str] = mapped_column(String(64), default="")
    patient: Mapped[Patient] = relationship(back_populates="identifiers", lazy="raise")


class Accession(Base):
    """An order's accession number known to the registry, pointing at its patient."""

    __tablename__ = "accessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    accession_number: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)


class Study(Base):
    """A DICOM study with the patient demographics its header carried."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_uid: Mapped[str] = mapped_column(UID, unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    accession_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    study_date: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(200), default="")
    dicom_patient_id: Mapped[str] = mapped_column(String(64), default="")
    dicom_issuer: Mapped[str] = mapped_column(String(64), default="")
    dicom_patient_name: Mapped[str] = mapped_column(String(200), default="")
    dicom_birth_date: Mapped[date | None] = mapped_column(Date)
    dicom_sex: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Series(Base):
    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    series_uid: Mapped[str] = mapped_column(UID, unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    modality: Mapped[str] = mapped_column(String(16), default="")
    series_number: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200), default="")


class Instance(Base):
    """One stored DICOM object, indexed from its header only."""

    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    sop_instance_uid: Mapped[str] = mapped_column(UID, unique=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    sop_class_uid: Mapped[str] = mapped_column(UID, default="")
    modality: Mapped[str] = mapped_column(String(16), default="", index=True)
    is_mammogram: Mapped[bool] = mapped_column(Boolean, default=False)
    laterality: Mapped[str | None] = mapped_column(String(1))
    laterality_source: Mapped[str | None] = mapped_column(String(32))
    view: Mapped[str | None] = mapped_column(String(16))
    view_source: Mapped[str | None] = mapped_column(String(32))
    photometric_interpretation: Mapped[str] = mapped_column(String(16), default="")
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    pixel_spacing_row: Mapped[float | None] = mapped_column(Double)
    pixel_spacing_col: Mapped[float | None] = mapped_column(Double)
    manufacturer: Mapped[str] = mapped_column(String(64), default="")
    transfer_syntax_uid: Mapped[str] = mapped_column(UID, default="")
    stored_path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class InstanceConflict(Base):
    """A SOP Instance UID that arrived again with other content; both copies are kept."""

    __tablename__ = "instance_conflicts"
    __table_args__ = (UniqueConstraint("sop_instance_uid", "new_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sop_instance_uid: Mapped[str] = mapped_column(UID, index=True)
    existing_sha256: Mapped[str] = mapped_column(String(64))
    new_sha256: Mapped[str] = mapped_column(String(64))
    kept_path: Mapped[str] = mapped_column(String(512))
    source_path: Mapped[str] = mapped_column(String(1024), default="")
    detected_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class QuarantinedFile(Base):
    """A file that could not be ingested, kept byte for byte with the reason."""

    __tablename__ = "quarantined_files"
    __table_args__ = (UniqueConstraint("sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    source_path: Mapped[str] = mapped_column(String(1024), default="")
    quarantine_path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # Set once a person re-ingests or dismisses the file (emr_core/dicom/quarantine_resolution.py).
    resolution: Mapped[str | None] = mapped_column(String(16), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(String(500))


class LedgerEntry(Base):
    """When a study completed a processing stage; drives incremental nightly runs."""

    __tablename__ = "study_ledger"
    __table_args__ = (UniqueConstraint("study_id", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    completed_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    detail: Mapped[str] = mapped_column(String(200), default="")


class LinkDecision(Base):
    """How a study was linked to a patient, with the evidence; one current row per study."""

    __tablename__ = "link_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    method: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Double, default=0.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    decided_by: Mapped[str] = mapped_column(String(64), default="linker")
    decided_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AuditEvent(Base):
    """One audited event, shaped like DICOM PS3.15 A.5 / IHE ATNA, hash-chained to the previous."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    event_id: Mapped[str] = mapped_column(String(16), index=True)
    event_type: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(1))
    outcome: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    user_role: Mapped[str] = mapped_column(String(32), default="")
    ae_title: Mapped[str] = mapped_column(String(16), default="")
    network_address: Mapped[str] = mapped_column(String(64), default="")
    patient_ref: Mapped[str] = mapped_column(String(64), default="", index=True)
    study_uid: Mapped[str] = mapped_column(UID, default="")
    accession_number: Mapped[str] = mapped_column(String(64), default="")
    sop_instance_uid: Mapped[str] = mapped_column(UID, default="")
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row holding the newest hash; updating it first serialises writers of the chain."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
