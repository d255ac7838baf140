"""What goes into a version: every image of exams whose breast sides all have a final (consolidated) read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.models import Accession, Instance, Patient, PatientIdentifier, Study
from emr_core.models_annotation import AnnotationRevision, CampaignTask, ConsolidatedFinding, ConsolidatedRead

BOX_EDGES = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class SourceImage:
    """One image to export, with its side's consolidated read and the boxes drawn on it (DICOM pixels)."""

    stored_path: str
    laterality: str
    view: str
    rows: int
    columns: int
    age: int | None
    density: str
    assessment: str
    source: str
    revisions: tuple[str, ...]
    findings: tuple[dict[str, Any], ...]
    issuer: str
    patient_id: str


@dataclass
class Selection:
    """Images to export, exams left out with the reason, and the PHI a release must not contain."""

    images: list[SourceImage] = field(default_factory=list)
    excluded: list[tuple[str, str, str]] = field(default_factory=list)  # (issuer, patient id, reason)
    phi: set[str] = field(default_factory=set)


def _age(born: date | None, on: date | None) -> int | None:
    if born is None or on is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _box(f: ConsolidatedFinding, view: str) -> dict[str, Any] | None:
    values = [getattr(f, f"{view}_{e}") for e in BOX_EDGES]
    if values[0] is None:
        return None
    return {
        "category": f.finding_type,
        "birads": f.birads,
        "attributes": f.attributes or {},
        **{e: round(float(v), 2) for e, v in zip(BOX_EDGES, values, strict=True)},
    }


def _decided_tasks(session: Session) -> tuple[dict[int, list[tuple[CampaignTask, ConsolidatedRead | None]]], list[int]]:
    """Study id -> its sides (with their read, None when undecided); studies with an undecided side."""
    per_study: dict[int, list[tuple[CampaignTask, ConsolidatedRead | None]]] = defaultdict(list)
    rows = session.execute(
        select(CampaignTask, ConsolidatedRead)
        .outerjoin(ConsolidatedRead, ConsolidatedRead.campaign_task_id == CampaignTask.id)
        .order_by(CampaignTask.id)
    )
    for task, read in rows:
        per_study[task.study_id].append((task, read))
    undecided = sorted(s for s, sides in per_study.items() if any(r is None for _, r in sides))
    return per_study, undecided


def select_images(session: Session) -> Selection:
    """Every CC and MLO image of exams whose every side has a consolidated read (of any ReadSource)."""
    selection = Selection()
    per_study, undecided = _decided_tasks(session)
    studies = {s.id: s for s in session.scalars(select(Study).where(Study.id.in_(list(per_study))))}
    for study_id in undecided:
        study = studies[study_id]
        reason = "exam without a final read on every breast side"
        selection.excluded.append((study.dicom_issuer, study.dicom_patient_id, reason))
    decided = [s for s in sorted(per_study) if s not in set(undecided)]
    findings: dict[int, list[ConsolidatedFinding]] = defaultdict(list)
    for f in session.scalars(select(ConsolidatedFinding).where(ConsolidatedFinding.study_id.in_(decided))):
        findings[f.campaign_task_id].append(f)
    hashes = _revision_hashes(session, [r for s in decided for _, r in per_study[s] if r is not None])
    patients = _patients(session, {studies[s].patient_id for s in decided if studies[s].patient_id})
    for study_id in decided:
        study = studies[study_id]
        patient = patients.get(study.patient_id or -1)
        born = patient.birth_date if patient else study.dicom_birth_date
        for task, read in per_study[study_id]:
            assert read is not None
            for view, instance_id in (("cc", task.cc_instance_id), ("mlo", task.mlo_instance_id)):
                inst = session.get_one(Instance, instance_id)
                boxes = [b for f in sorted(findings[task.id], key=lambda f: f.finding_uid) if (b := _box(f, view))]
                selection.images.append(
                    SourceImage(
                        stored_path=inst.stored_path,
                        laterality=task.laterality,
                        view=inst.view or view.upper(),
                        rows=inst.rows or 0,
                        columns=inst.columns or 0,
                        age=_age(born, study.study_date),
                        density=read.composition,
                        assessment=read.assessment,
                        source=read.source,
                        revisions=tuple(sorted(hashes.get(i, "") for i in read.revision_ids or [])),
                        findings=tuple(boxes),
                        issuer=study.dicom_issuer,
                        patient_id=study.dicom_patient_id,
                    )
                )
        selection.phi |= _study_phi(session, study)
    for patient in patients.values():
        selection.phi |= _patient_phi(patient)
    return selection


def _revision_hashes(session: Session, reads: list[ConsolidatedRead]) -> dict[int, str]:
    ids = [i for r in reads for i in (r.revision_ids or [])]
    if not ids:
        return {}
    rows = session.execute(
        select(AnnotationRevision.id, AnnotationRevision.result_sha256).where(AnnotationRevision.id.in_(ids))
    )
    return {i: h for i, h in rows}


def _patients(session: Session, ids: set[int | None]) -> dict[int, Patient]:
    found = session.scalars(select(Patient).where(Patient.id.in_([i for i in ids if i is not None])))
    return {p.id: p for p in found}


def _dates(value: date | None) -> set[str]:
    return {value.isoformat(), value.strftime("%Y%m%d")} if value else set()


def _patient_phi(patient: Patient) -> set[str]:
    return {patient.full_name} | _dates(patient.birth_date)


def _study_phi(session: Session, study: Study) -> set[str]:
    phi = {study.dicom_patient_name, study.dicom_patient_name.replace("^", " "), study.dicom_patient_id}
    phi |= {study.accession_number} | _dates(study.dicom_birth_date)
    if study.patient_id is not None:
        phi |= set(
            session.scalars(select(PatientIdentifier.value).where(PatientIdentifier.patient_id == study.patient_id))
        )
        phi |= set(session.scalars(select(Accession.accession_number).where(Accession.patient_id == study.patient_id)))
    return {p for p in phi if p}
