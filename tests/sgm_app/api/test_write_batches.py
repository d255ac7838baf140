"""Write transactions of the API: each writer's rows and audit events commit together or not at all, the chain
and its checkpoints stay true; on MariaDB concurrent writers share group commits (sgm_app.api.write_batches)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_event
from emr_core.audit_sink import sink_for
from emr_core.audit_verify import verify_audit_log
from emr_core.db import make_session_factory, session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditEvent, Patient
from emr_core.settings import Settings
from sgm_app.api.state import ApiState, lock_for_write
from sgm_app.api.write_batches import BatchLost, WriteBatches

MARIADB_ONLY = pytest.mark.parametrize("migrated_engine", ["mariadb"], indirect=True)


class Refused(Exception):
    """A writer's own failure, after it wrote a row and an audit event."""


def _state(settings: Settings, engine: Engine) -> ApiState:
    return ApiState(settings, engine, make_session_factory(engine, settings), b"pseudonym secret")


def _patient_batches(state: ApiState) -> WriteBatches:
    """Batches of the state's database that stay open as long as writers queue (no age limit to race)."""
    return WriteBatches(state.sessions, lock_for_write, max_seconds=3600)


def _write(session: Session, n: int) -> None:
    session.add(Patient(full_name=f"P {n}", name_key=f"p {n}"))
    session.flush()
    record_event(
        session,
        AuditRecord(AuditEventId.PATIENT_RECORD, AuditAction.CREATE, event_type="patient", detail={"n": n}),
    )


def _writer(
    transaction: Callable[[], AbstractContextManager[Session]], n: int, fail: bool, results: dict[int, str]
) -> None:
    try:
        with transaction() as session:
            _write(session, n)
            if fail:
                raise Refused(n)
        results[n] = "ok"
    except Refused:
        results[n] = "refused"


def _stored(state: ApiState) -> tuple[set[str], set[int]]:
    with session_scope(state.sessions) as session:
        names = set(session.scalars(select(Patient.full_name)))
        audited = {int(e.detail["n"]) for e in session.scalars(select(AuditEvent))}
    return names, audited


def _intact(state: ApiState) -> bool:
    sink = sink_for(state.settings)
    with session_scope(state.sessions) as session:
        report = verify_audit_log(session, sink.key, sink.checkpoints)
    assert report.events > 0
    assert report.intact, report.problems
    return report.intact


def test_concurrent_writers_keep_their_own_rows_and_events(settings: Settings, engine: Engine) -> None:
    state = _state(settings, engine)
    results: dict[int, str] = {}
    threads = [
        threading.Thread(target=_writer, args=(state.write_transaction, n, n % 5 == 0, results)) for n in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    kept = {n for n in range(40) if n % 5}
    assert results == {n: "ok" if n in kept else "refused" for n in range(40)}
    assert _stored(state) == ({f"P {n}" for n in kept}, kept)
    assert _intact(state)  # chain, seals and every checkpoint: no checkpoint names a rolled-back event


def _in_turn_while_another_waits(
    batches: WriteBatches, body: Callable[[Session], None], other: threading.Thread
) -> None:
    """Write inside the open batch and end the turn only once `other` queues for it, so the batch stays open."""
    with batches.write() as session:
        body(session)
        other.start()
        deadline = time.monotonic() + 30
        while batches.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batches.waiting == 1


@MARIADB_ONLY
def test_a_failed_last_writer_leaves_the_batch_and_its_checkpoint_to_the_others(
    settings: Settings, engine: Engine
) -> None:
    state = _state(settings, engine)
    batches = _patient_batches(state)
    results: dict[int, str] = {}
    last = threading.Thread(target=_writer, args=(batches.write, 2, True, results))
    _in_turn_while_another_waits(batches, lambda session: _write(session, 1), last)
    last.join(timeout=30)
    assert results == {2: "refused"}
    assert _stored(state) == ({"P 1"}, {1})
    checkpoints, bad = sink_for(settings).checkpoints.read()
    with session_scope(state.sessions) as session:
        newest = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert newest is not None and not bad
    assert (checkpoints[-1].event_id, checkpoints[-1].row_hash) == (newest.id, newest.row_hash)
    assert _intact(state)


def _lose_connection(engine: Engine, session: Session) -> None:
    """The database drops this writer's connection mid-transaction (as after a crash or a network cut)."""
    own = session.scalar(text("SELECT CONNECTION_ID()"))
    with engine.connect() as other:
        other.execute(text(f"KILL CONNECTION {int(own)}"))
    session.execute(text("SELECT 1"))


@MARIADB_ONLY
def test_a_lost_transaction_acknowledges_none_of_its_writes(settings: Settings, engine: Engine) -> None:
    state = _state(settings, engine)
    batches = _patient_batches(state)
    failures: list[BaseException] = []

    def doomed() -> None:
        try:
            with batches.write() as session:
                _write(session, 2)
                _lose_connection(engine, session)
        except OperationalError as exc:
            failures.append(exc)

    second = threading.Thread(target=doomed)
    with pytest.raises(BatchLost):  # the first writer had finished its part: it must not be told it succeeded
        _in_turn_while_another_waits(batches, lambda session: _write(session, 1), second)
    second.join(timeout=30)
    assert len(failures) == 1
    assert _stored(state) == (set(), set())
    with batches.write() as session:  # the next batch starts afresh
        _write(session, 3)
    assert _stored(state) == ({"P 3"}, {3})
    assert _intact(state)
