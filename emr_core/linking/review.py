"""The review queue: studies the linker would not decide alone, and manual decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.enums import LinkMethod, LinkStatus
from emr_core.linking.candidates import PatientIndex
from emr_core.linking.linker import create_provisional, write_decisions
from emr_core.linking.scoring import make_header
from emr_core.models import LinkDecision, Patient, PatientIdentifier, Study, utcnow


@dataclass(frozen=True)
class ReviewItem:
    """One queued study with what the linker saw: header, candidates and reasons."""

    study_uid: str
    decision_id: int
    queued_at: str
    header: dict[str, Any]
    reasons: list[str]
    candidates: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "study_uid": self.study_uid,
            "decision_id": self.decision_id,
            "queued_at": self.queued_at,
            "header": self.header,
            "reasons": self.reasons,
            "candidates": self.candidates,
        }


def review_queue(session: Session, limit: int | None = None) -> list[ReviewItem]:
    """Studies whose current decision awaits review, oldest first."""
    stmt = (
        select(Study.study_uid, LinkDecision.id, LinkDecision.decided_at, LinkDecision.evidence)
        .join(LinkDecision, LinkDecision.study_id == Study.id)
        .where(LinkDecision.is_current.is_(True), LinkDecision.status == LinkStatus.REVIEW.value)
        .order_by(LinkDecision.decided_at, LinkDecision.id)
        .limit(limit)
    )
    return [
        ReviewItem(
            uid,
            did,
            at.isoformat(timespec="seconds"),
            ev.get("header", {}),
            list(ev.get("reasons", [])),
            list(ev.get("candidates", [])),
        )
        for uid, did, at, ev in session.execute(stmt)
    ]


def decide(session: Session, study_uid: str, patient_id: int | None, decided_by: str) -> LinkDecision:
    """Record a manual link (None: create a new patient from the header); the caller commits."""
    study = session.scalars(select(Study).where(Study.study_uid == study_uid)).one_or_none()
    if study is None:
        raise LookupError(f"no study with UID {study_uid}")
    previous = session.scalars(
        select(LinkDecision).where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
    ).one_or_none()
    if patient_id is None:
        patient_id = _new_patient(session, study)
    elif session.get(Patient, patient_id) is None:
        raise LookupError(f"no patient with id {patient_id}")
    evidence = {
        "method": str(LinkMethod.MANUAL),
        "status": str(LinkStatus.MANUAL),
        "previous_decision_id": previous.id if previous else None,
        "previous_status": previous.status if previous else None,
        "candidates": (previous.evidence or {}).get("candidates", []) if previous else [],
    }
    row = {
        "study_id": study.id,
        "patient_id": patient_id,
        "method": str(LinkMethod.MANUAL),
        "status": str(LinkStatus.MANUAL),
        "score": 1.0,
        "evidence": evidence,
        "is_current": True,
        "decided_by": decided_by[:64],
        "decided_at": utcnow(),
    }
    write_decisions(session, [(study.id, patient_id, row)])
    session.expire_all()  # the bulk statements bypassed the identity map
    return session.scalars(
        select(LinkDecision).where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
    ).one()


def _new_patient(session: Session, study: Study) -> int:
    """A new (provisional) patient from the study header, as a reviewer asked."""
    header = make_header(
        study.id,
        study.study_uid,
        study.dicom_patient_id,
        study.dicom_issuer,
        study.dicom_patient_name,
        study.dicom_birth_date,
        study.dicom_sex,
        study.accession_number,
    )
    index = PatientIndex()
    # Only the identifier's owner matters here: a taken identifier is not reused.
    owner = session.scalars(
        select(PatientIdentifier.patient_id).where(
            PatientIdentifier.value == header.patient_id, PatientIdentifier.issuer == header.issuer
        )
    ).first()
    if owner is not None:
        index.by_identifier[(header.patient_id, header.issuer)] = owner
    return create_provisional(session, index, header)
