"""The copy to the audit record repository: RFC 5425 TLS to a real rsyslogd, and nothing lost while it is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_events
from emr_core.audit_sink import close_senders, flush_senders
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.settings import Settings
from tests.conftest import SgmCli
from tests.emr_core.audit_repository import free_port, make_pki, rsyslog_server

EVENTS = 30


def _write(factory: sessionmaker[Session], count: int = EVENTS) -> None:
    records = [
        AuditRecord(AuditEventId.QUERY, AuditAction.EXECUTE, event_type="search", user_id="nurse", detail={"n": n})
        for n in range(count)
    ]
    for start in range(0, count, 10):
        with session_scope(factory) as session:
            record_events(session, records[start : start + 10])


def _spooled(settings: Settings) -> list[str]:
    spool = settings.audit_spool_dir / "pending.log"
    return spool.read_text(encoding="utf-8").splitlines() if spool.exists() else []


@pytest.fixture(autouse=True)
def _stop_senders() -> Iterator[None]:
    yield
    close_senders()


def _use_repository(monkeypatch: pytest.MonkeyPatch, port: int, ca: Path | None = None) -> None:
    monkeypatch.setenv("SGM_AUDIT_SYSLOG_HOST", "127.0.0.1")
    monkeypatch.setenv("SGM_AUDIT_SYSLOG_PORT", str(port))
    if ca is not None:
        monkeypatch.setenv("SGM_AUDIT_SYSLOG_TLS", "true")
        monkeypatch.setenv("SGM_AUDIT_SYSLOG_CA_FILE", str(ca))


def test_events_reach_a_tls_repository_and_verify_against_it(
    sgm: SgmCli, session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = make_pki(tmp_path / "pki")
    with rsyslog_server(tmp_path / "rsyslog", pki=pki) as server:
        _use_repository(monkeypatch, server.port, pki.ca)
        _write(session_factory)
        assert flush_senders()
        lines = server.wait_for(EVENTS)
    # RFC 5424: a UTF-8 MSG starts with the BOM, then the PS3.15 AuditMessage.
    assert all(line.startswith("\ufeff<AuditMessage><EventIdentification") for line in lines)
    result = sgm("audit", "verify", "--against", str(server.received))
    assert result.exit_code == 0, result.output
    assert f"audit log intact: {EVENTS} events" in result.output


def test_an_untrusted_repository_gets_nothing_and_the_messages_are_kept(
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_pki, other_ca = make_pki(tmp_path / "server-pki"), make_pki(tmp_path / "other-pki").ca
    with rsyslog_server(tmp_path / "rsyslog", pki=server_pki) as server:
        _use_repository(monkeypatch, server.port, other_ca)
        _write(session_factory)
        assert not flush_senders(timeout=2)
        assert server.lines() == []
    assert len(_spooled(settings)) == EVENTS


def test_messages_spooled_while_the_repository_is_down_are_sent_when_it_is_back(
    sgm: SgmCli,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    _use_repository(monkeypatch, port)
    _write(session_factory)
    assert not flush_senders(timeout=1)
    assert len(_spooled(settings)) == EVENTS
    with rsyslog_server(tmp_path / "rsyslog", port=port) as server:
        assert flush_senders(timeout=30)
        server.wait_for(EVENTS)
    assert _spooled(settings) == []
    result = sgm("audit", "verify", "--against", str(server.received))
    assert result.exit_code == 0, result.output
    assert f"{EVENTS} messages of received.log" in result.output


def test_a_short_lived_command_delivers_its_events_before_it_exits(
    sgm: SgmCli, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys

    with rsyslog_server(tmp_path / "rsyslog") as server:
        _use_repository(monkeypatch, server.port)
        for _ in range(2):  # a separate process each time: only its exit can flush the queue
            done = subprocess.run(
                [sys.executable, "-c", "from sgm_app.cli import main; main()", "audit", "verify"],
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        lines = server.wait_for(2)
    assert len(lines) == 2 and all("audit_verify" in line for line in lines)
    assert _spooled(settings) == []


def test_nothing_is_lost_when_the_repository_restarts(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    _use_repository(monkeypatch, port)
    with rsyslog_server(tmp_path / "before", port=port) as before:
        _write(session_factory, 10)
        assert flush_senders()
        before.wait_for(10)
    # The sender still holds its connection to the stopped server; the next events must not vanish in it.
    with rsyslog_server(tmp_path / "after", port=port) as after:
        _write(session_factory, 10)
        assert flush_senders(timeout=30)
        assert len(after.wait_for(10)) == 10
    assert _spooled(settings) == []
