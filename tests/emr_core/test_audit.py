"""The audit log chains every event; editing, inserting or deleting a row is detected."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_event, record_events, verify_chain
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditEvent


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.INSTANCES_TRANSFERRED,
        action=AuditAction.CREATE,
        event_type="C-STORE",
        ae_title="MODALITY1",
        network_address="127.0.0.1",
        patient_ref="BN0001",
        sop_instance_uid=f"1.2.3.{n}",
        instance_count=1,
        detail={"n": n, "name": "Nguyễn Thị Lan"},
    )


def _write(factory: sessionmaker[Session], count: int) -> None:
    for n in range(count):
        with session_scope(factory) as session:
            record_event(session, _record(n))


def test_intact_chain_verifies(session_factory: sessionmaker[Session]) -> None:
    _write(session_factory, 5)
    with session_scope(session_factory) as session:
        assert verify_chain(session) == []
        assert (
            session.scalar(select(AuditEvent.detail).where(AuditEvent.id.is_not(None)).limit(1))["name"]
            == "Nguyễn Thị Lan"
        )


def test_edited_row_is_detected(session_factory: sessionmaker[Session]) -> None:
    _write(session_factory, 4)
    with session_scope(session_factory) as session:
        target = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()[2]
        session.execute(update(AuditEvent).where(AuditEvent.id == target).values(user_id="mallory"))
    with session_scope(session_factory) as session:
        problems = verify_chain(session)
    assert [(p.event_id, "edited" in p.problem) for p in problems] == [(target, True)]


def test_deleted_middle_and_last_rows_are_detected(session_factory: sessionmaker[Session]) -> None:
    _write(session_factory, 5)
    with session_scope(session_factory) as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_([ids[1], ids[-1]])))
    with session_scope(session_factory) as session:
        problems = verify_chain(session)
    messages = " | ".join(p.problem for p in problems)
    assert "inserted or deleted" in messages and "truncated" in messages


def test_concurrent_writers_keep_one_chain(session_factory: sessionmaker[Session]) -> None:
    threads = [threading.Thread(target=_write, args=(session_factory, 10)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope(session_factory) as session:
        assert session.query(AuditEvent).count() == 30
        assert verify_chain(session) == []


def test_batch_append_chains_in_order(session_factory: sessionmaker[Session]) -> None:
    _write(session_factory, 2)
    with session_scope(session_factory) as session:
        events = record_events(session, [_record(n) for n in range(10, 15)])
        assert [e.prev_hash for e in events[1:]] == [e.row_hash for e in events[:-1]]
    with session_scope(session_factory) as session:
        assert session.query(AuditEvent).count() == 7
        assert verify_chain(session) == []
