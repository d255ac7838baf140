"""The append-only audit log (DICOM PS3.15 A.5 / IHE ATNA shaped), chained with HMAC-SHA256.

The key lives outside the database (SGM_AUDIT_KEY_FILE), so whoever can write the database cannot
re-seal an edited chain; checkpoints and the syslog copy (emr_core.audit_sink) catch truncation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from emr_core.audit_message import audit_message
from emr_core.audit_seal import seal
from emr_core.audit_sink import defer, session_sink
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


def _canonical_text(event: AuditEvent) -> str:
    payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(event: AuditEvent, key: bytes) -> str:
    """HMAC-SHA256 under the audit key over the event's fields and the previous hash, canonically."""
    return seal(key, _canonical_text(event))


def legacy_hash(event: AuditEvent) -> str:
    """The plain sha256 seal of rows written before the keyed chain (checked once, at the upgrade)."""
    return hashlib.sha256(_canonical_text(event).encode("utf-8")).hexdigest()


_NEWEST = select(AuditChainHead.last_event_id, AuditChainHead.last_hash).where(AuditChainHead.id == 1)


def _lock_chain_head(session: Session) -> tuple[int, str]:
    """Lock and read the chain head (newest id and hash): writers of the chain queue here, one at a time."""
    connection = session.connection()  # Core statements: the ORM's execute path costs more than the query
    if connection.dialect.name in ("mysql", "mariadb"):
        # One round trip: the row lock and the read together.
        head = connection.execute(_NEWEST.with_for_update()).one_or_none()
    else:
        # SQLite has no row locks: a write first takes the database lock before we read.
        connection.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))
        head = connection.execute(_NEWEST).one_or_none()
    return (head[0], head[1]) if head is not None else _rebuild_head(session)


def _rebuild_head(session: Session) -> tuple[int, str]:
    """The head row is gone: continue after the newest surviving event (verify reports the loss)."""
    last_id = session.scalar(select(func.max(AuditEvent.id))) or 0
    last_hash = session.scalar(select(AuditEvent.row_hash).where(AuditEvent.id == last_id)) if last_id else None
    session.add(AuditChainHead(id=1, last_event_id=last_id, last_hash=last_hash or GENESIS_HASH))
    session.flush()
    return last_id, last_hash or GENESIS_HASH


def _new_event(record: AuditRecord, event_id: int, prev_hash: str, key: bytes) -> AuditEvent:
    values = asdict(record)
    values["event_id"], values["action"] = str(record.event_id), str(record.action)
    event = AuditEvent(**values, id=event_id, occurred_at=utcnow(), prev_hash=prev_hash, row_hash="")
    event.row_hash = event_hash(event, key)
    return event


def _row(event: AuditEvent) -> dict[str, Any]:
    return {column: getattr(event, column) for column in (*HASHED_FIELDS, "row_hash")}


def record_events(session: Session, records: Sequence[AuditRecord]) -> list[AuditEvent]:
    """Append events to the chain inside the caller's transaction, in order; returns them (not in the session)."""
    if not records:
        return []
    sink = session_sink(session)  # before the lock: creating the key on first use touches the disk
    # The caller's own changes are written before the chain lock is taken: holding the head while
    # waiting for another writer's row lock would deadlock with that writer waiting for the head.
    session.flush()
    last_id, last_hash = _lock_chain_head(session)
    # Ids are assigned here, under the lock, because each id is part of its event's hash.
    events: list[AuditEvent] = []
    for record in records:
        last_id += 1
        events.append(_new_event(record, last_id, last_hash, sink.key))
        last_hash = events[-1].row_hash
    # Core statements, not the unit of work nor the ORM's bulk path: the chain lock is held until commit,
    # and every request is audited, so each millisecond here is a millisecond every other writer waits.
    connection = session.connection()
    connection.execute(insert(AuditEvent), [_row(event) for event in events])
    connection.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(last_event_id=last_id, last_hash=last_hash)
    )
    messages = [audit_message(event, sink.site) for event in events] if sink.sender is not None else []
    defer(session, sink, last_id, last_hash, messages)
    return events


def record_event(session: Session, record: AuditRecord) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction."""
    return record_events(session, [record])[0]


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def verify_chain(session: Session, key: bytes | None = None, seals: dict[int, str] | None = None) -> list[ChainProblem]:
    """Recompute the chain with the key; report edited, inserted, deleted or truncated events.

    `seals`, when given, receives every event id and its stored seal, for the comparison with copies
    kept outside the database.
    """
    key = session_sink(session).key if key is None else key
    problems: list[ChainProblem] = []
    previous_hash, previous_id = GENESIS_HASH, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != previous_hash:
            problems.append(ChainProblem(event.id, "does not chain onto the previous event (inserted or deleted row)"))
        if event_hash(event, key) != event.row_hash:
            problems.append(ChainProblem(event.id, "content does not match its hash (edited or re-sealed row)"))
        previous_hash, previous_id = event.row_hash, event.id
        if seals is not None:
            seals[event.id] = event.row_hash
    head = session.get(AuditChainHead, 1)
    if head is None and previous_id:
        problems.append(ChainProblem(previous_id, "the chain head row is missing (deleted)"))
    elif head is not None and (head.last_event_id, head.last_hash) != (previous_id, previous_hash):
        problems.append(ChainProblem(head.last_event_id, "the newest events are missing (truncated log)"))
    return problems
