"""One-time upgrade of a plain-sha256 audit chain to the keyed (HMAC) chain, itself audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emr_core.audit import GENESIS_HASH, AuditRecord, event_hash, legacy_hash, record_event
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditChainHead, AuditEvent

CHUNK = 1000


@dataclass(frozen=True)
class ResealReport:
    events: int
    legacy_problems: list[int]


def reseal_legacy(session: Session, key: bytes) -> ResealReport:
    """Check every row under the old sha256 seal, re-seal the chain with the key, record the upgrade.

    Rows that fail the old check are re-sealed too (the chain must continue) but their ids are kept
    in the upgrade's own audit event, so the evidence of earlier tampering is not lost.
    """
    previous_old, previous_new, last_id = GENESIS_HASH, GENESIS_HASH, 0
    problems: list[int] = []
    count = 0
    while events := list(
        session.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(CHUNK))
    ):
        for event in events:
            if event.prev_hash != previous_old or legacy_hash(event) != event.row_hash:
                problems.append(event.id)
            previous_old = event.row_hash
            event.prev_hash = previous_new
            event.row_hash = previous_new = event_hash(event, key)
            last_id = event.id
        count += len(events)
        session.flush()
        session.expunge_all()
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(last_event_id=last_id, last_hash=previous_new)
    )
    if count:
        record_event(session, _upgrade_record(count, problems))
    return ResealReport(count, problems)


def _upgrade_record(count: int, problems: list[int]) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.APPLICATION_ACTIVITY,
        action=AuditAction.UPDATE,
        event_type="audit_chain_resealed",
        outcome=AuditOutcome.SUCCESS if not problems else AuditOutcome.SERIOUS_FAILURE,
        user_id="migration",
        network_address="local",
        detail={"events": count, "algorithm": "hmac-sha256", "legacy_check_failed": problems[:1000]},
    )
