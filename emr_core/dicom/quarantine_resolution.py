"""Resolve quarantined files: re-ingest them (the copy, or a corrected file) or dismiss them, audited.

A quarantined file stays on disk either way; resolving it records who decided what and why,
so that the quarantine gate (`platform_status`, the Dagster checks) stops counting it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.dicom.header import InstanceHeader, read_header
from emr_core.dicom.ingest import IngestReport, ingest_file
from emr_core.enums import AuditAction, AuditEventId, QuarantineResolution
from emr_core.models import Instance, QuarantinedFile, Series, Study, utcnow
from emr_core.settings import Settings

NOTE_LENGTH = 500


class ResolutionError(ValueError):
    """The quarantined file cannot be resolved as asked; the message says why."""


@dataclass(frozen=True)
class QuarantineItem:
    """One quarantined file as a person sees it in `sgm quarantine list`."""

    id: int
    reason: str
    detail: str
    source_path: str
    quarantine_path: str
    size_bytes: int
    quarantined_at: str
    resolution: str | None


@dataclass(frozen=True)
class Resolution:
    """What resolving one file did: the decision and, for a re-ingest, the ingest report."""

    quarantine_id: int
    action: QuarantineResolution
    ingest: IngestReport | None = None


def list_quarantined(session: Session, include_resolved: bool = False) -> list[QuarantineItem]:
    """Quarantined files, oldest first; unresolved only unless asked."""
    query = select(QuarantinedFile).order_by(QuarantinedFile.id)
    if not include_resolved:
        query = query.where(QuarantinedFile.resolution.is_(None))
    return [
        QuarantineItem(
            q.id,
            q.reason,
            q.detail,
            q.source_path,
            q.quarantine_path,
            q.size_bytes,
            q.quarantined_at.isoformat(timespec="seconds"),
            q.resolution,
        )
        for q in session.scalars(query)
    ]


def dismiss(session: Session, quarantine_id: int, reason: str, user: str) -> Resolution:
    """Mark a quarantined file as not to be ingested, and audit the decision (caller commits)."""
    item = _open_item(session, quarantine_id, reason)
    _mark(item, QuarantineResolution.DISMISSED, reason, user)
    # Application Activity, not Patient Record: a quarantined file could not be indexed, so it
    # belongs to no patient's record; the decision is about the application's holding area.
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.APPLICATION_ACTIVITY,
            action=AuditAction.EXECUTE,
            event_type="quarantine dismissed",
            user_id=user,
            detail=_detail(item, reason),
        ),
    )
    return Resolution(quarantine_id, QuarantineResolution.DISMISSED)


def reingest(
    session_factory: sessionmaker[Session],
    settings: Settings,
    quarantine_id: int,
    reason: str,
    user: str,
    replacement: str | os.PathLike[str] | None = None,
) -> Resolution:
    """Ingest the quarantined copy (or a corrected replacement); resolved and audited only if it is stored."""
    with session_scope(session_factory) as session:
        item = _open_item(session, quarantine_id, reason)
        source = Path(replacement) if replacement else settings.root / item.quarantine_path
    if not source.is_file():
        raise ResolutionError(f"{source}: no such file")
    report = ingest_file(session_factory, settings, source)
    if report.quarantined or report.failed:
        why = report.quarantined_files[0].detail if report.quarantined_files else "ingest failed"
        raise ResolutionError(f"quarantine item {quarantine_id} still cannot be ingested: {why}")
    sop = _sop_uid(source)
    with session_scope(session_factory) as session:
        item = _open_item(session, quarantine_id, reason)
        _mark(item, QuarantineResolution.REINGESTED, reason, user)
        study = _study_of(session, sop)
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.IMPORT,
                action=AuditAction.CREATE,
                event_type="quarantine re-ingested",
                user_id=user,
                # As the receiver's import events: the patient as the header names them.
                patient_ref=study.dicom_patient_id if study else "",
                study_uid=study.study_uid if study else "",
                accession_number=study.accession_number if study else "",
                sop_instance_uid=sop,
                instance_count=1,
                detail={**_detail(item, reason), "file": str(source)},
            ),
        )
    return Resolution(quarantine_id, QuarantineResolution.REINGESTED, report)


def _open_item(session: Session, quarantine_id: int, reason: str) -> QuarantinedFile:
    """The unresolved quarantine row, after checking the reason a person must give."""
    if not reason.strip():
        raise ResolutionError("a reason is required")
    if len(reason) > NOTE_LENGTH:
        raise ResolutionError(f"the reason is limited to {NOTE_LENGTH} characters")
    item = session.get(QuarantinedFile, quarantine_id, with_for_update=True)
    if item is None:
        raise ResolutionError(f"no quarantined file with id {quarantine_id}")
    if item.resolution is not None:
        raise ResolutionError(f"quarantine item {quarantine_id} was already {item.resolution} by {item.resolved_by}")
    return item


def _mark(item: QuarantinedFile, action: QuarantineResolution, reason: str, user: str) -> None:
    item.resolution = action.value
    item.resolved_at = utcnow()
    item.resolved_by = user[:128]
    item.resolution_note = reason.strip()


def _detail(item: QuarantinedFile, reason: str) -> dict[str, object]:
    return {"quarantine_id": item.id, "sha256": item.sha256, "quarantine_reason": item.reason, "note": reason.strip()}


def _sop_uid(path: Path) -> str:
    """The SOP Instance UID of a file just ingested (its header was read successfully)."""
    header = read_header(path)
    return header.sop_instance_uid if isinstance(header, InstanceHeader) else ""


def _study_of(session: Session, sop_instance_uid: str) -> Study | None:
    return session.scalar(
        select(Study)
        .join(Series, Series.study_id == Study.id)
        .join(Instance, Instance.series_id == Series.id)
        .where(Instance.sop_instance_uid == sop_instance_uid)
    )
