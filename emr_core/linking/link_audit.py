"""Audit events of linking decisions (Patient Record, 110110): one per patient whose record changed, one per batch."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_events
from emr_core.enums import AuditAction, AuditEventId, LinkMethod, LinkStatus
from emr_core.models import LinkDecision, Study

Decision = tuple[int, int | None, dict[str, object]]  # study id, patient id, LinkDecision row
MAX_LISTED = 50
LINKER = "linker"


def patient_ref(patient_id: int) -> str:
    """How the audit log names an EMR patient (as the API does)."""
    return f"emr:{patient_id}"


def audit_decisions(session: Session, decisions: Sequence[Decision]) -> None:
    """Record the decisions about to replace the current ones; call before they are superseded."""
    if not decisions:
        return
    study_ids = [study_id for study_id, _, _ in decisions]
    uids = dict(session.execute(select(Study.id, Study.study_uid).where(Study.id.in_(study_ids))).all())
    previous = dict(
        session.execute(
            select(LinkDecision.study_id, LinkDecision.patient_id).where(
                LinkDecision.study_id.in_(study_ids), LinkDecision.is_current.is_(True)
            )
        ).all()
    )
    records = _patient_records(decisions, uids, previous)
    automatic = [d for d in decisions if d[2].get("decided_by") == LINKER]
    if automatic:
        records.append(_batch_record(automatic, len(records)))
    record_events(session, records)


def _patient_records(
    decisions: Sequence[Decision], uids: dict[int, str], previous: dict[int, int | None]
) -> list[AuditRecord]:
    gained: dict[tuple[int, str, str, str], list[str]] = defaultdict(list)
    lost: dict[tuple[int, str], list[str]] = defaultdict(list)
    for study_id, patient_id, row in decisions:
        uid, who = uids.get(study_id, ""), str(row.get("decided_by", ""))
        if patient_id is not None and previous.get(study_id) != patient_id:
            gained[(patient_id, who, str(row["method"]), str(row["status"]))].append(uid)
        old = previous.get(study_id)
        if old is not None and old != patient_id:
            lost[(old, who)].append(uid)
    records = [_linked(pid, who, method, status, studies) for (pid, who, method, status), studies in gained.items()]
    records += [_unlinked(pid, who, studies) for (pid, who), studies in lost.items()]
    return records


def _linked(patient_id: int, who: str, method: str, status: str, studies: list[str]) -> AuditRecord:
    # A provisional patient is created for the study that is linked to it: a new record.
    created = method == LinkMethod.PROVISIONAL and status == LinkStatus.AUTO
    return AuditRecord(
        event_id=AuditEventId.PATIENT_RECORD,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        event_type="study_linked" if who == LINKER else "study_linked_manual",
        user_id=who[:128],
        network_address="local",
        patient_ref=patient_ref(patient_id),
        study_uid=studies[0] if len(studies) == 1 else "",
        detail={"method": method, "status": status, "studies": studies[:MAX_LISTED], "study_count": len(studies)},
    )


def _unlinked(patient_id: int, who: str, studies: list[str]) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.PATIENT_RECORD,
        action=AuditAction.UPDATE,
        event_type="study_unlinked",
        user_id=who[:128],
        network_address="local",
        patient_ref=patient_ref(patient_id),
        study_uid=studies[0] if len(studies) == 1 else "",
        detail={"studies": studies[:MAX_LISTED], "study_count": len(studies)},
    )


def _batch_record(decisions: Sequence[Decision], patient_events: int) -> AuditRecord:
    """What one batch of the automatic linker decided, by method and status."""
    by_outcome = Counter(f"{row['status']}/{row['method']}" for _, _, row in decisions)
    return AuditRecord(
        event_id=AuditEventId.PATIENT_RECORD,
        action=AuditAction.UPDATE,
        event_type="link_batch",
        user_id=LINKER,
        network_address="local",
        detail={
            "decisions": len(decisions),
            "by_outcome": dict(sorted(by_outcome.items())),
            "patient_events": patient_events,
        },
    )
