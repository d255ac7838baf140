"""Checkpoints name only committed events: a released savepoint is not a commit, a rolled-back one never counts."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_event
from emr_core.audit_sink import pending_snapshot, restore_pending, session_sink
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditChainHead, AuditEvent


def _record(n: int) -> AuditRecord:
    return AuditRecord(AuditEventId.PATIENT_RECORD, AuditAction.CREATE, event_type="probe", detail={"n": n})


def _checkpoints(session_factory: sessionmaker[Session]) -> list[int]:
    with session_scope(session_factory) as session:
        good, bad = session_sink(session).checkpoints.read()
    assert not bad
    return [c.event_id for c in good]


def test_a_released_savepoint_writes_no_checkpoint_before_the_commit(session_factory: sessionmaker[Session]) -> None:
    session = session_factory()
    try:
        # A write opens the outer transaction first (pysqlite would otherwise let RELEASE commit the savepoint).
        session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))
        with session.begin_nested():
            record_event(session, _record(1))
        assert _checkpoints(session_factory) == []  # released, not committed: nothing outside the database yet
    finally:
        session.rollback()
        session.close()
    assert _checkpoints(session_factory) == []
    with session_scope(session_factory) as session:
        assert session.scalars(select(AuditEvent)).all() == []


def test_a_rolled_back_savepoint_is_left_out_of_the_checkpoint(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        kept = record_event(session, _record(1))
        snapshot = pending_snapshot(session)
        savepoint = session.begin_nested()
        record_event(session, _record(2))
        savepoint.rollback()
        restore_pending(session, snapshot)
    assert _checkpoints(session_factory) == [kept.id]
