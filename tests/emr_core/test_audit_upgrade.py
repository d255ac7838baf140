"""Upgrading a sha256-sealed audit log: the migration checks the old seals and re-seals with the key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import GENESIS_HASH, legacy_hash, verify_chain
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.migrate import upgrade
from emr_core.models import AuditChainHead, AuditEvent, utcnow
from tests.conftest import _mariadb_engine


def _legacy_rows(count: int) -> list[AuditEvent]:
    """Rows as the sha256 chain wrote them before the keyed chain existed."""
    events, previous = [], GENESIS_HASH
    for n in range(1, count + 1):
        event = AuditEvent(
            id=n, occurred_at=utcnow(), event_id="110103", event_type="viewed", action="R", outcome=0,
            user_id="reader", user_role="radiologist", ae_title="", network_address="127.0.0.1",
            patient_ref=f"BN{n}", study_uid="", accession_number="", sop_instance_uid="", instance_count=0,
            detail={"n": n}, prev_hash=previous, row_hash="",
        )  # fmt: skip
        event.row_hash = previous = legacy_hash(event)
        events.append(event)
    return events


@pytest.fixture(params=["sqlite", "mariadb"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (not migrated) of each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
        yield engine
        engine.dispose()
        return
    server = _mariadb_engine()
    yield next(server)
    server.close()


def _legacy_database(engine: Engine, tamper: bool) -> sessionmaker[Session]:
    upgrade(engine, "0004")
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        events = _legacy_rows(30)
        session.add_all(events)
        session.execute(update(AuditChainHead).values(last_event_id=30, last_hash=events[-1].row_hash))
    if tamper:  # an edit made before the upgrade, by someone who did not recompute the seal
        with session_scope(factory) as session:
            session.execute(update(AuditEvent).where(AuditEvent.id == 7).values(user_id="mallory"))
    upgrade(engine)
    return factory


def test_upgrade_reseals_an_intact_legacy_chain(fresh_engine: Engine) -> None:
    factory = _legacy_database(fresh_engine, tamper=False)
    with session_scope(factory) as session:
        assert verify_chain(session) == []
        upgrade_event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert upgrade_event is not None and upgrade_event.event_type == "audit_chain_resealed"
    assert upgrade_event.detail["events"] == 30 and upgrade_event.detail["legacy_check_failed"] == []
    assert upgrade_event.outcome == 0


def test_upgrade_keeps_the_evidence_of_earlier_tampering(fresh_engine: Engine) -> None:
    factory = _legacy_database(fresh_engine, tamper=True)
    with session_scope(factory) as session:
        upgrade_event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert upgrade_event is not None
    assert upgrade_event.detail["legacy_check_failed"] == [7]
    assert upgrade_event.outcome == 8
