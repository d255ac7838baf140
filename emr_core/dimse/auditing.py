"""Audit records of the receiver: associations, received instances, rejected callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord
from emr_core.dimse.spool import AssociationInfo
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditEvent, Instance, Series, Study
from emr_core.vocabulary.dicom import SUCCESS, hex_code


@dataclass(frozen=True)
class Received:
    """One C-STORE the receiver answered: the spooled file (None if none), its UID, the status sent."""

    path: Path | None
    sop_instance_uid: str
    association: AssociationInfo | None
    status: int = SUCCESS
    detail: str = ""


@dataclass(frozen=True)
class AssociationEnded:
    """An association closed (released, aborted, or interrupted by a crash), with its counts."""

    association: AssociationInfo
    outcome: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AssociationRejected:
    """An association refused at negotiation (unknown caller, too many associations)."""

    calling_ae: str
    called_ae: str
    address: str
    reason: str


WorkItem = Received | AssociationEnded | AssociationRejected


@dataclass(frozen=True)
class IndexedStudy:
    study_uid: str
    patient_id: str
    accession_number: str


def indexed_studies(session: Session, sop_uids: list[str]) -> dict[str, IndexedStudy]:
    """The study and patient each SOP Instance UID was indexed under, if it was."""
    rows = session.execute(
        select(Instance.sop_instance_uid, Study.study_uid, Study.dicom_patient_id, Study.accession_number)
        .join(Series, Instance.series_id == Series.id)
        .join(Study, Series.study_id == Study.id)
        .where(Instance.sop_instance_uid.in_(sop_uids))
    ).all()
    return {sop: IndexedStudy(study, patient, accession) for sop, study, patient, accession in rows}


def instance_record(item: Received, indexed: IndexedStudy | None) -> AuditRecord:
    """DICOM Instances Transferred (import) for one received instance, success or failure."""
    info = item.association
    ok = item.status == SUCCESS and indexed is not None
    detail: dict[str, object] = {"status": hex_code(item.status), "spool_file": item.path.name if item.path else ""}
    if item.detail:
        detail["problem"] = item.detail
    if item.status == SUCCESS and indexed is None:
        detail["problem"] = "acknowledged but not indexed (quarantined or failed at ingest)"
    if info is None:
        detail["recovered"] = "association record lost"
    return AuditRecord(
        event_id=AuditEventId.IMPORT,
        action=AuditAction.CREATE,
        event_type="dicom_instance_received",
        outcome=AuditOutcome.SUCCESS if ok else AuditOutcome.SERIOUS_FAILURE,
        ae_title=info.calling_ae if info else "",
        network_address=info.address if info else "",
        patient_ref=indexed.patient_id if indexed else "",
        study_uid=indexed.study_uid if indexed else "",
        accession_number=indexed.accession_number if indexed else "",
        sop_instance_uid=item.sop_instance_uid,
        instance_count=1,
        detail={**detail, "association": info.id if info else ""},
    )


def association_record(item: AssociationEnded) -> AuditRecord:
    """One association of a sender: who, from where, how it ended, what it delivered."""
    info = item.association
    failed = item.counts.get("failed", 0)
    clean = item.outcome == "released" and failed == 0
    return AuditRecord(
        event_id=AuditEventId.INSTANCES_TRANSFERRED,
        action=AuditAction.CREATE,
        event_type="dicom_association",
        outcome=AuditOutcome.SUCCESS if clean else AuditOutcome.MINOR_FAILURE,
        user_id=info.called_ae,
        ae_title=info.calling_ae,
        network_address=info.address,
        instance_count=item.counts.get("stored", 0),
        detail={"association": info.id, "ended": item.outcome, "started_at": info.started_at, **item.counts},
    )


def rejection_record(item: AssociationRejected) -> AuditRecord:
    """A refused association: a security alert naming the caller and the reason."""
    return AuditRecord(
        event_id=AuditEventId.SECURITY_ALERT,
        action=AuditAction.EXECUTE,
        event_type="dicom_association_rejected",
        outcome=AuditOutcome.MINOR_FAILURE,
        user_id=item.called_ae,
        ae_title=item.calling_ae,
        network_address=item.address,
        detail={"reason": item.reason},
    )


@dataclass(frozen=True)
class ReceivedBatch:
    """What the receiver delivered since an audit event id: for the orchestrator's UI."""

    last_event_id: int
    associations: int
    instances: int
    callers: tuple[str, ...]
    study_uids: tuple[str, ...]


def received_since(session: Session, after_id: int) -> ReceivedBatch | None:
    """Associations and instances the receiver audited after event `after_id`, or None."""
    events = session.execute(
        select(AuditEvent.id, AuditEvent.event_type, AuditEvent.ae_title, AuditEvent.study_uid, AuditEvent.outcome)
        .where(AuditEvent.id > after_id, AuditEvent.event_type.in_(("dicom_association", "dicom_instance_received")))
        .order_by(AuditEvent.id)
    ).all()
    if not events:
        return None
    instances = [e for e in events if e.event_type == "dicom_instance_received" and e.outcome == AuditOutcome.SUCCESS]
    return ReceivedBatch(
        last_event_id=events[-1].id,
        associations=sum(e.event_type == "dicom_association" for e in events),
        instances=len(instances),
        callers=tuple(sorted({e.ae_title for e in events if e.ae_title})),
        study_uids=tuple(sorted({e.study_uid for e in instances if e.study_uid})),
    )
