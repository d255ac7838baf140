"""Patient records: demographics updates and merging two records of one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from emr_core.clinical.search import reindex_renamed
from emr_core.linking.names import name_key
from emr_core.models import Accession, LinkDecision, Patient, PatientIdentifier, Study
from emr_core.models_clinical import (
    FormSubmission,
    PatientFile,
    PatientMerge,
    PatientNameToken,
    PatientSearchKey,
    Task,
)

# Every table whose rows belong to a patient, moved as a whole on merge.
_OWNED: dict[str, Any] = {  # mapped classes with `id` and `patient_id` columns
    "identifiers": PatientIdentifier,
    "accessions": Accession,
    "studies": Study,
    "link_decisions": LinkDecision,
    "tasks": Task,
    "form_submissions": FormSubmission,
    "files": PatientFile,
}


class PatientNotFound(LookupError):
    """No patient with that id."""


class PatientMergedError(ValueError):
    """The record was merged into another; `survivor` is the patient that now holds its data."""

    def __init__(self, patient_id: int, survivor: int) -> None:
        super().__init__(f"patient {patient_id} was merged into patient {survivor}; write to patient {survivor}")
        self.patient_id, self.survivor = patient_id, survivor


@dataclass(frozen=True)
class Demographics:
    """Fields a clinician may correct; None leaves a field unchanged."""

    full_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise PatientNotFound(f"patient {patient_id} not found")
    return patient


_MERGED_INTO = select(PatientMerge.target_patient_id).where(PatientMerge.source_patient_id == bindparam("pid"))


def merged_into(session: Session, patient_id: int) -> int | None:
    """The patient this record was merged into, if it was."""
    return session.scalar(_MERGED_INTO, {"pid": patient_id})


def surviving_patient(session: Session, patient_id: int) -> int:
    """The record that holds this patient's data now: itself, or the end of its merge chain."""
    seen, current = {patient_id}, patient_id
    while (target := merged_into(session, current)) is not None and target not in seen:
        seen.add(target)
        current = target
    return current


def merged_away_into(session: Session, patient_id: int) -> int | None:
    """The surviving record when this one was merged away (the end of its merge chain), else None."""
    survivor = surviving_patient(session, patient_id)
    return survivor if survivor != patient_id else None


def writable_patient(session: Session, patient_id: int) -> Patient:
    """The patient, for a write; PatientNotFound, or PatientMergedError when merged away (data lives elsewhere)."""
    patient = get_patient(session, patient_id)
    survivor = merged_away_into(session, patient_id)
    if survivor is not None:
        raise PatientMergedError(patient_id, survivor)
    return patient


def update_demographics(session: Session, patient_id: int, change: Demographics) -> dict[str, Any]:
    """Apply the change; returns {field: [old, new]} for what actually changed (never on a merged-away record)."""
    patient = writable_patient(session, patient_id)
    changed: dict[str, Any] = {}
    for field in ("full_name", "birth_date", "sex"):
        new = getattr(change, field)
        old = getattr(patient, field)
        if new is not None and new != old:
            setattr(patient, field, new)
            changed[field] = [str(old) if old is not None else None, str(new)]
    if "full_name" in changed:
        patient.name_key = name_key(patient.full_name)
        patient.provisional = False
        reindex_renamed(session, [(patient.id, patient.full_name)])
    session.flush()
    return changed


def merge_patients(session: Session, source_id: int, target_id: int, merged_by: str) -> PatientMerge:
    """Move everything of the source record to the target; the source stays, marked merged."""
    if source_id == target_id:
        raise ValueError("source_patient_id: cannot merge a patient into itself")
    get_patient(session, source_id), get_patient(session, target_id)
    for pid in (source_id, target_id):
        if merged_into(session, pid) is not None:
            raise ValueError(f"source_patient_id: patient {pid} was already merged")
    moved: dict[str, list[int]] = {}
    for name, model in _OWNED.items():
        ids = list(session.scalars(select(model.id).where(model.patient_id == source_id)))
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values(patient_id=target_id))
        moved[name] = ids
    session.execute(delete(PatientNameToken).where(PatientNameToken.patient_id == source_id))
    session.execute(delete(PatientSearchKey).where(PatientSearchKey.patient_id == source_id))
    record = PatientMerge(source_patient_id=source_id, target_patient_id=target_id, merged_by=merged_by, moved=moved)
    session.add(record)
    session.flush()
    return record
