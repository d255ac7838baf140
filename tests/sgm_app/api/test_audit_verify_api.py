"""GET /audit/verify checks the keyed chain and the signed checkpoints: a truncated log is reported."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_events
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditChainHead, AuditEvent


def test_truncation_with_the_head_moved_back_is_reported(api, session_factory: sessionmaker[Session]) -> None:
    records = [AuditRecord(AuditEventId.PATIENT_RECORD, AuditAction.READ, user_id="clinician") for _ in range(10)]
    with session_scope(session_factory) as session:
        record_events(session, records)
    first = api.get("admin", "/audit/verify").json()
    assert first["intact"] is True, first
    with session_scope(session_factory) as session:
        last = session.scalar(select(func.max(AuditEvent.id)))
        session.execute(delete(AuditEvent).where(AuditEvent.id > last - 3))
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        session.execute(update(AuditChainHead).values(last_event_id=newest.id, last_hash=newest.row_hash))
    report = api.get("admin", "/audit/verify").json()
    assert report["intact"] is False
    assert any("missing from the database" in p["problem"] for p in report["problems"]), report
    assert report["summary"].startswith("audit log TAMPERED")
