"""An exam without a radiologist's report takes its assessment from the consolidated annotation reading."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.exam_reports import adopt_consolidated_reads, current_reports, record_exam_report
from emr_core.clinical.followup import evaluate_followup
from emr_core.clinical.reports import operations_report, render_html
from emr_core.clinical.rules import load_rules
from emr_core.db import session_scope
from emr_core.models import Instance, Patient, Series, Study, utcnow
from emr_core.models_annotation import (
    AnnotationCampaign,
    AnnotationReader,
    AnnotationRevision,
    CampaignTask,
    ConsolidatedRead,
    ReaderAssignment,
)
from emr_core.models_clinical import Task


def _study(session: Session, uid: str) -> tuple[Study, dict[str, int]]:
    """A study of a new patient with CC and MLO images of both breasts; returns (study, {LCC: id, ...})."""
    patient = Patient(full_name="Bùi Thị Ngân", birth_date=date(1970, 4, 4))
    session.add(patient)
    session.flush()
    study = Study(study_uid=uid, patient_id=patient.id, study_date=date(2025, 3, 3))
    session.add(study)
    session.flush()
    series = Series(series_uid=f"{uid}.1", study_id=study.id, modality="MG")
    session.add(series)
    session.flush()
    images = {}
    for name in ("LCC", "LMLO", "RCC", "RMLO"):
        image = Instance(
            sop_instance_uid=f"{uid}.1.{name}",
            series_id=series.id,
            laterality=name[0],
            view=name[1:],
            stored_path=f"x/{name}.dcm",
            size_bytes=1,
            sha256="0" * 64,
        )
        session.add(image)
        session.flush()
        images[name] = image.id
    return study, images


def _consolidate(session: Session, campaign: AnnotationCampaign, uid: str, reads: dict[str, tuple[str, str]]) -> int:
    study, images = _study(session, uid)
    for side, (assessment, composition) in reads.items():
        task = CampaignTask(
            campaign_id=campaign.id,
            study_id=study.id,
            laterality=side,
            cc_instance_id=images[f"{side}CC"],
            mlo_instance_id=images[f"{side}MLO"],
            state="done",
        )
        session.add(task)
        session.flush()
        session.add(
            ConsolidatedRead(
                campaign_task_id=task.id, composition=composition, assessment=assessment, source="concordant"
            )
        )
    return study.id


def test_consolidated_reading_becomes_the_exam_assessment_once(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        campaign = AnnotationCampaign(name="screening-2025")
        session.add(campaign)
        session.flush()
        suspicious = _consolidate(session, campaign, "1.2.9.1", {"L": ("2", "b"), "R": ("4B", "c")})
        reported = _consolidate(session, campaign, "1.2.9.2", {"L": ("1", "a"), "R": ("1", "a")})
        record_exam_report(session, reported, "3", "dr.an")  # the radiologist's own report wins
    with session_scope(session_factory) as session:
        assert adopt_consolidated_reads(session) == 1
        assert adopt_consolidated_reads(session) == 0
        reports = current_reports(session)
        assert (reports[suspicious].assessment, reports[suspicious].composition, reports[suspicious].source) == (
            "4B",
            "c",
            "annotation",
        )
        assert (reports[reported].assessment, reports[reported].source) == ("3", "api")


def test_nightly_run_turns_a_consolidated_4b_into_a_biopsy_task(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        campaign = AnnotationCampaign(name="screening-2025b")
        session.add(campaign)
        session.flush()
        study_id = _consolidate(session, campaign, "1.2.9.3", {"L": ("4B", "c"), "R": ("1", "c")})
    with session_scope(session_factory) as session:
        result = evaluate_followup(session, load_rules(), today=date(2025, 3, 4))
        tasks = session.execute(select(Task.kind, Task.due_date).where(Task.study_id == study_id)).all()
    assert result.annotation_reports_adopted == 1
    assert [tuple(t) for t in tasks] == [("biopsy", date(2025, 3, 17))]


def test_operations_report_counts_annotations_and_consolidations(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        campaign = AnnotationCampaign(name="screening-2025c")
        reader = AnnotationReader(email="dr.lan@example.org", ls_user_id=7)
        session.add_all([campaign, reader])
        session.flush()
        _consolidate(session, campaign, "1.2.9.4", {"L": ("2", "b"), "R": ("1", "b")})
        assignment = ReaderAssignment(campaign_id=campaign.id, reader_id=reader.id, role="reader_1", ls_project_id=3)
        session.add(assignment)
        session.flush()
        task_id = session.scalar(select(CampaignTask.id).limit(1))
        for n in range(3):
            session.add(
                AnnotationRevision(
                    assignment_id=assignment.id,
                    campaign_task_id=task_id,
                    ls_annotation_id=n,
                    result_sha256=f"{n:064d}",
                    valid=n < 2,
                )
            )
    today = utcnow().date()
    with session_scope(session_factory) as session:
        tables = {t.title: t for t in operations_report(session, today, today, today)}
    rows = tables["Annotation throughput and turnaround"].rows
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("dr.lan@example.org", "annotations", 2),
        ("", "consolidated breasts", 2),
    ]
    assert "Annotation throughput and turnaround" in render_html(list(tables.values()), today, today)
