"""Someone who can write the database, but not read the key or rewrite the copies, cannot hide tampering.

Each attack is what a database writer can do best without the key: recompute the seals the old way
(plain sha256) and move the chain head. `sgm audit verify` must report every one, against the signed
checkpoints alone, and against a real rsyslogd's copy alone; never with a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, legacy_hash, record_events
from emr_core.audit_message import audit_message
from emr_core.audit_sink import close_senders, flush_senders
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditChainHead, AuditEvent
from emr_core.settings import Settings
from tests.conftest import SgmCli
from tests.emr_core.audit_repository import Rsyslog, rsyslog_server

EVENTS = 120


def _records(batch: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            event_id=AuditEventId.INSTANCES_ACCESSED,
            action=AuditAction.READ,
            event_type="study_viewed",
            user_id=f"reader{n % 3}",
            network_address="127.0.0.1",
            patient_ref=f"BN{batch:03d}{n}",
            detail={"n": n, "name": "Nguyễn Thị Lan"},
        )
        for n in range(10)
    ]


def _populate(factory: sessionmaker[Session]) -> None:
    for batch in range(EVENTS // 10):
        with session_scope(factory) as session:
            record_events(session, _records(batch))


def _reseal_from(session: Session, first_id: int) -> None:
    """The attacker's re-seal: recompute every seal from first_id on (without the key) and the head."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.id >= first_id).order_by(AuditEvent.id)).all()
    previous = session.scalar(
        select(AuditEvent.row_hash).where(AuditEvent.id < first_id).order_by(AuditEvent.id.desc())
    )
    for event in events:
        event.prev_hash = previous or "0" * 64
        event.row_hash = previous = legacy_hash(event)
    session.flush()
    _move_head(session)


def _move_head(session: Session) -> None:
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    session.execute(
        update(AuditChainHead).values(
            last_event_id=last.id if last else 0, last_hash=last.row_hash if last else "0" * 64
        )
    )


def edit_row_and_reseal(session: Session) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.id == 40).values(user_id="mallory", patient_ref="BN999"))
    _reseal_from(session, 40)


def delete_last_50_and_move_head(session: Session) -> None:
    last = session.scalar(select(func.max(AuditEvent.id))) or 0
    session.execute(delete(AuditEvent).where(AuditEvent.id > last - 50))
    _move_head(session)


def delete_middle_row_and_reseal(session: Session) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.id == 60))
    _reseal_from(session, 61)


def wipe_rows_and_head(session: Session) -> None:
    session.execute(delete(AuditEvent))
    session.execute(delete(AuditChainHead))


def delete_tail_with_head_row(session: Session) -> None:
    last = session.scalar(select(func.max(AuditEvent.id))) or 0
    session.execute(delete(AuditEvent).where(AuditEvent.id > last - 10))
    session.execute(delete(AuditChainHead))


ATTACKS: list[Callable[[Session], None]] = [
    edit_row_and_reseal,
    delete_last_50_and_move_head,
    delete_middle_row_and_reseal,
    wipe_rows_and_head,
    delete_tail_with_head_row,
]


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rsyslog]:
    """A real rsyslogd the audit log copies every event to (SGM_AUDIT_SYSLOG_*)."""
    with rsyslog_server(tmp_path / "rsyslog") as server:
        monkeypatch.setenv("SGM_AUDIT_SYSLOG_HOST", "127.0.0.1")
        monkeypatch.setenv("SGM_AUDIT_SYSLOG_PORT", str(server.port))
        yield server
        close_senders()


def _verify(sgm: SgmCli, *args: str) -> tuple[int, str]:
    result = sgm("audit", "verify", *args)  # catch_exceptions=False: a traceback fails the test
    return result.exit_code, result.output


def test_intact_log_verifies_against_checkpoints_and_rsyslog(
    sgm: SgmCli, session_factory: sessionmaker[Session], repository: Rsyslog
) -> None:
    _populate(session_factory)
    assert flush_senders()
    repository.wait_for(EVENTS)
    # Another installation shares the repository: its messages (other ids, other seals) are not ours.
    with session_scope(session_factory) as session:
        stranger = session.get(AuditEvent, 3)
        assert stranger is not None
        foreign = audit_message(stranger, site="sgm-0123456789abcdef").replace(stranger.row_hash, "f" * 64)
    with open(repository.received, "a", encoding="utf-8") as copy:
        copy.write(foreign + "\n")
    code, output = _verify(sgm, "--against", str(repository.received))
    assert code == 0, output
    assert f"audit log intact: {EVENTS} events" in output
    assert f"{EVENTS} messages of received.log" in output
    assert "1 message(s) of other audit chains" in output


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
def test_tampering_is_detected_by_signed_checkpoints(
    attack: Callable[[Session], None], sgm: SgmCli, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _populate(session_factory)
    assert _verify(sgm)[0] == 0
    with session_scope(session_factory) as session:
        attack(session)
    code, output = _verify(sgm)
    assert code == 1, output
    assert "audit log TAMPERED" in output.splitlines()[-1]
    assert settings.audit_checkpoint_path.exists()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
def test_tampering_is_detected_by_the_rsyslog_copy(
    attack: Callable[[Session], None],
    sgm: SgmCli,
    session_factory: sessionmaker[Session],
    settings: Settings,
    repository: Rsyslog,
) -> None:
    _populate(session_factory)
    assert flush_senders()
    repository.wait_for(EVENTS)
    with session_scope(session_factory) as session:
        attack(session)
    # Only the repository's copy is left to tell: the checkpoints are gone too.
    settings.audit_checkpoint_path.unlink()
    code, output = _verify(sgm, "--against", str(repository.received))
    assert code == 1, output
    assert "external copy" in output
    assert "audit log TAMPERED" in output.splitlines()[-1]


def test_truncation_names_the_missing_events(sgm: SgmCli, session_factory: sessionmaker[Session]) -> None:
    _populate(session_factory)
    with session_scope(session_factory) as session:
        delete_last_50_and_move_head(session)
    code, output = _verify(sgm)
    assert code == 1
    assert f"events {EVENTS - 49}-{EVENTS}: missing from the database" in output


def test_forged_checkpoint_line_is_reported(
    sgm: SgmCli, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _populate(session_factory)
    lines = settings.audit_checkpoint_path.read_text().splitlines()
    fields = lines[-1].split(" ")
    fields[1] = "70"  # point the newest checkpoint back, keeping the old signature
    settings.audit_checkpoint_path.write_text("\n".join([*lines[:-1], " ".join(fields)]) + "\n")
    code, output = _verify(sgm)
    assert code == 1
    assert "bad signature" in output


def test_missing_key_is_a_one_line_error(
    sgm: SgmCli, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _populate(session_factory)
    settings.audit_key_path.unlink()
    result = sgm("audit", "verify")
    assert result.exit_code == 1
    assert "audit key" in result.output and "Traceback" not in result.output


def test_key_file_is_private(session_factory: sessionmaker[Session], settings: Settings) -> None:
    _populate(session_factory)
    assert settings.audit_key_path.stat().st_mode & 0o777 == 0o600


def test_hostile_lines_in_the_copy_are_reported_not_parsed(
    sgm: SgmCli, session_factory: sessionmaker[Session], repository: Rsyslog, tmp_path: Path
) -> None:
    _populate(session_factory)
    assert flush_senders()
    lines = repository.wait_for(EVENTS)
    # Rotated: the older half in one file, the newer in another; plus an entity bomb and a broken message.
    older, newer = tmp_path / "audit.log.1", tmp_path / "audit.log"
    older.write_text("\n".join(lines[: EVENTS // 2]) + "\n", encoding="utf-8")
    bomb = '<AuditMessage><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>&b;</AuditMessage>'
    newer.write_text("\n".join([*lines[EVENTS // 2 :], bomb, "<AuditMessage><Event"]) + "\n", encoding="utf-8")
    code, output = _verify(sgm, "--against", str(older), "--against", str(newer))
    assert code == 1, output
    assert "2 unreadable audit message(s) in audit.log.1, audit.log" in output
    assert f"{EVENTS} messages of audit.log.1, audit.log" in output


def test_a_new_installation_verifies_as_empty(sgm: SgmCli, settings: Settings) -> None:
    result = sgm("audit", "verify")
    assert result.exit_code == 0 and "audit log empty" in result.output
    again = sgm("audit", "verify")  # the first verification was itself audited, with a new key
    assert again.exit_code == 0 and "audit log intact: 1 events" in again.output
    assert settings.audit_key_path.exists()
