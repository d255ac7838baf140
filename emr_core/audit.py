"""The append-only, hash-chained audit log (DICOM PS3.15 A.5 / IHE ATNA shaped)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditChainHead, AuditEvent, utcnow

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "id",
    "occurred_at",
    "event_id",
    "event_type",
    "action",
    "outcome",
    "user_id",
    "user_role",
    "ae_title",
    "network_address",
    "patient_ref",
    "study_uid",
    "accession_number",
    "sop_instance_uid",
    "instance_count",
    "detail",
    "prev_hash",
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
    """Lock and read the chain head: writers of the chain queue here, one at a time."""
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        # One round trip: the row lock and the read together.
        head = session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        ).scalar_one_or_none()
    else:
        # SQLite has no row locks: a write first takes the database lock before we read.
        session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))
        head = session.get(AuditChainHead, 1, populate_existing=True)
    if head is None:  # tables emptied by hand (tests): start a new chain
        head = AuditChainHead(id=1, last_event_id=0, last_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def _new_event(record: AuditRecord, event_id: int, prev_hash: str) -> AuditEvent:
    values = asdict(record)
    values["event_id"], values["action"] = str(record.event_id), str(record.action)
    event = AuditEvent(**values, id=event_id, occurred_at=utcnow(), prev_hash=prev_hash, row_hash="")
    event.row_hash = event_hash(event)
    return event


def record_events(session: Session, records: Sequence[AuditRecord]) -> list[AuditEvent]:
    """Append events to the chain inside the caller's transaction, in order."""
    if not records:
        return []
    head = _lock_chain_head(session)
    # Ids are assigned here, under the lock, because each id is part of its event's hash.
    events: list[AuditEvent] = []
    last_id, last_hash = head.last_event_id, head.last_hash
    for record in records:
        last_id += 1
        events.append(_new_event(record, last_id, last_hash))
        last_hash = events[-1].row_hash
    session.add_all(events)
    head.last_event_id, head.last_hash = last_id, last_hash
    session.flush()
    return events


def record_event(session: Session, record: AuditRecord) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction."""
    return record_events(session, [record])[0]


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
