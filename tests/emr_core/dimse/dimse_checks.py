"""Assertions shared by the DIMSE tests: what the index, storage and audit log hold."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.storage import TEMP_PREFIX
from emr_core.models import AuditEvent, Instance, QuarantinedFile
from emr_core.settings import Settings


def sop_uids(paths: list[Path]) -> set[str]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}


def indexed(sessions: sessionmaker[Session]) -> dict[str, Instance]:
    with session_scope(sessions) as session:
        return {i.sop_instance_uid: i for i in session.scalars(select(Instance))}


def audit_events(sessions: sessionmaker[Session], event_type: str) -> list[AuditEvent]:
    with session_scope(sessions) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def quarantined(sessions: sessionmaker[Session]) -> list[QuarantinedFile]:
    with session_scope(sessions) as session:
        return list(session.scalars(select(QuarantinedFile)))


def dataset_bytes(path: Path) -> bytes:
    """The bytes after the file meta group: what travelled on the network."""
    raw = path.read_bytes()
    meta_length = int.from_bytes(raw[140:144], "little")  # (0002,0000) value after 128+4+8 bytes
    return raw[144 + meta_length :]


def leftovers(settings: Settings) -> list[Path]:
    """Temp files anywhere under the data folder, partial receives, files still in the spool."""
    temps = list(settings.root.rglob(TEMP_PREFIX + "*"))
    partial = list((settings.root / "dimse" / "partial").glob("*"))
    spooled = [p for p in (settings.incoming_dir / "dimse").rglob("*") if p.is_file()]
    return temps + partial + spooled
