"""A flood of anonymous requests writes a bounded number of audit rows, and their count is kept."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.settings import Settings
from sgm_app.api import create_app

FLOOD = 2000


def _auth_events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with session_scope(factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_id == "110114").order_by(AuditEvent.id)))


def _flood(client: TestClient) -> None:
    for n in range(FLOOD):
        headers = {"Authorization": f"Bearer forged-{n}"} if n % 2 else {}
        assert client.get(f"/patients/{n % 7}", headers=headers).status_code == 401


def test_2000_anonymous_requests_write_a_bounded_number_of_rows(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with TestClient(create_app(settings)) as client:
        _flood(client)
        during = _auth_events(session_factory)
        # One row per address and reason while the window lasts, not one per request.
        assert [(e.event_type, e.detail["reason"]) for e in during] == [
            ("token", "missing token"),
            ("token", "invalid token"),
        ]
    # At shutdown the open windows are closed: their counts are recorded, nothing is lost.
    summaries = [e for e in _auth_events(session_factory) if e.event_type == "token_denied_summary"]
    assert len(_auth_events(session_factory)) == 4
    assert sorted(e.detail["count"] for e in summaries) == [FLOOD // 2, FLOOD // 2]
    assert sum(sum(e.detail["paths"].values()) for e in summaries) <= FLOOD
    assert {e.network_address for e in summaries} == {"testclient"}
    assert {next(iter(e.detail["reasons"])) for e in summaries} == {"missing token", "invalid token"}


def _counted(events: list[AuditEvent]) -> int:
    """Requests the rows account for: a window's count row, or 1 for a window that saw a single request."""
    firsts = sum(e.event_type == "token" for e in events)
    summaries = [e.detail["count"] for e in events if e.event_type == "token_denied_summary"]
    return sum(summaries) + firsts - len(summaries)


def test_counts_are_written_when_the_window_ends(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    short = settings.model_copy(update={"audit_401_window_seconds": 2})
    with TestClient(create_app(short)) as client:
        for _ in range(50):
            assert client.get("/patients/1").status_code == 401
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _counted(_auth_events(session_factory)) != 50:
            time.sleep(0.2)  # the writer thread closes ended windows about once a second
        events = _auth_events(session_factory)
        assert _counted(events) == 50, [(e.event_type, e.detail) for e in events]
        assert len(events) <= 4  # 50 requests in at most two windows
        before = len(events)
        # A new window starts with a row of its own.
        assert client.get("/patients/1").status_code == 401
        assert [e.event_type for e in _auth_events(session_factory)][before:] == ["token"]
