"""The reads' group commit: every event lands in the chain, in order, even when a waiting request goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import nullcontext

import pytest
from sqlalchemy import select

from emr_core.audit import AuditRecord, verify_chain
from emr_core.db import make_session_factory, session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditEvent
from sgm_app.api.audit_writer import AuditWriter


def _read(patient: int) -> AuditRecord:
    return AuditRecord(
        AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="patient", patient_ref=f"emr:{patient}"
    )


@pytest.fixture
def writer(engine, settings) -> Iterator[tuple[AuditWriter, object]]:
    sessions = make_session_factory(engine, settings)
    writer = AuditWriter(sessions, nullcontext)
    writer.start()
    try:
        yield writer, sessions
    finally:
        writer.stop()


def _recorded(sessions) -> list[str]:
    with session_scope(sessions) as session:
        assert verify_chain(session) == []
        return list(session.scalars(select(AuditEvent.patient_ref).order_by(AuditEvent.id)))


def test_waits_from_the_event_loop_share_commits_and_keep_the_chain(writer) -> None:
    audit, sessions = writer

    async def many() -> None:
        await asyncio.gather(*(audit.append_from_loop(_read(n)) for n in range(30)))

    asyncio.run(many())
    assert sorted(_recorded(sessions), key=lambda ref: int(ref.split(":")[1])) == [f"emr:{n}" for n in range(30)]


def test_a_request_that_goes_away_still_leaves_its_record_and_the_writer_goes_on(writer) -> None:
    audit, sessions = writer

    async def abandoned() -> None:
        waiting = asyncio.ensure_future(audit.append_from_loop(_read(1)))
        await asyncio.sleep(0)  # queued
        waiting.cancel()  # the client disconnected while its read was being audited
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(abandoned())
    cancelled: Future[None] = Future()
    cancelled.cancel()  # a wait cancelled before the writer took it: its record is written all the same
    audit._queue.put((_read(2), cancelled))
    audit.append(_read(3))  # the writer thread is alive and answers
    assert _recorded(sessions) == ["emr:1", "emr:2", "emr:3"]
