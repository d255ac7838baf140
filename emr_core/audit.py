"""The append-only, hash-chained audit log (DICOM PS3.15 A.5 / IHE ATNA shaped)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditChainHead, AuditEvent, utcnow

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "id", "occurred_at", "event_id", "event_type", "action", "outcome", "user_id", "user_role",
    "ae_title", "network_address", "patient_ref", "study_uid", "accession_number",
    "sop_instance_uid", "instance_count", "detail", "prev_hash",
)


@dataclass(frozen=True)
class AuditRecord:
    """What happened, who did it from where, and which patient data it touched."""

    event_id: AuditEventId
    action: AuditAction
    event_type: str = ""
    outcome: int = AuditOutcome.SUCCESS
    user_id: str = ""
    user_role: str = ""
    ae_title: str = ""
    network_address: str = ""
    patient_ref: str = ""
    study_uid: str = ""
    accession_number: str = ""
    sop_instance_uid: str = ""
    instance_count: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


def event_hash(event: AuditEvent) -> str:
    """sha256 over the event's fields and the previous hash, in a fixed canonical form."""
    payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lock_chain_head(session: Session) -> AuditChainHead:
    # The UPDATE takes the write lock (SQLite) or row lock (MySQL) before we read the head,
    # so two writers can never chain onto the same previous event.
    locked = session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditChainHead(id=1, last_event_id=0, last_hash=GENESIS_HASH))
        session.flush()
    return session.execute(select(AuditChainHead).where(AuditChainHead.id == 1)).scalar_one()


def record_event(session: Session, record: AuditRecord) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction."""
    head = _lock_chain_head(session)
    values = asdict(record)
    values["event_id"] = str(record.event_id)
    values["action"] = str(record.action)
    event = AuditEvent(**values, occurred_at=utcnow(), prev_hash=head.last_hash, row_hash="")
    session.add(event)
    session.flush()  # assigns the id, which is part of the hash
    event.row_hash = event_hash(event)
    head.last_event_id, head.last_hash = event.id, event.row_hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def verify_chain(session: Session) -> list[ChainProblem]:
    """Recompute the chain; report edited, inserted, deleted or truncated events."""
    problems: list[ChainProblem] = []
    previous_hash, previous_id = GENESIS_HASH, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != previous_hash:
            problems.append(ChainProblem(event.id, "does not chain onto the previous event (inserted or deleted row)"))
        if event_hash(event) != event.row_hash:
            problems.append(ChainProblem(event.id, "content does not match its hash (edited row)"))
        previous_hash, previous_id = event.row_hash, event.id
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.last_event_id, head.last_hash) != (previous_id, previous_hash):
        problems.append(ChainProblem(head.last_event_id, "the newest events are missing (truncated log)"))
    return problems
