"""The radiologist's per-exam assessment (BI-RADS), recorded through the API."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.models import Study
from emr_core.models_annotation import CampaignTask, ConsolidatedRead
from emr_core.models_clinical import ExamReport
from emr_core.vocabulary.birads import Assessment, Composition, most_severe, values

ASSESSMENTS = values(Assessment)
COMPOSITIONS = values(Composition)


def record_exam_report(
    session: Session,
    study_id: int,
    assessment: str,
    reported_by: str,
    composition: str | None = None,
    impression: str = "",
    source: str = "api",
) -> ExamReport:
    """Add a report for the study (the newest one is current); ValueError naming the bad field."""
    if assessment not in ASSESSMENTS:
        raise ValueError(f"assessment: {assessment!r} is not a BI-RADS category; use one of {', '.join(ASSESSMENTS)}")
    if composition is not None and composition not in COMPOSITIONS:
        raise ValueError(f"composition: {composition!r} is not a BI-RADS composition; use a, b, c or d")
    if session.get(Study, study_id) is None:
        raise LookupError(f"study {study_id} not found")
    report = ExamReport(
        study_id=study_id,
        assessment=assessment,
        composition=composition,
        impression=impression,
        source=source,
        reported_by=reported_by,
    )
    session.add(report)
    session.flush()
    return report


def current_reports(session: Session, study_ids: list[int] | None = None) -> dict[int, ExamReport]:
    """study id -> its newest report (all studies when `study_ids` is None)."""
    newest = select(func.max(ExamReport.id)).group_by(ExamReport.study_id)
    if study_ids is not None:
        newest = newest.where(ExamReport.study_id.in_(study_ids))
    rows = session.scalars(select(ExamReport).where(ExamReport.id.in_(newest)))
    return {r.study_id: r for r in rows}


ANNOTATION_SOURCE = "annotation"
ANNOTATION_READER = "consolidated-reading"


def adopt_consolidated_reads(session: Session) -> int:
    """Record the consolidated annotation reading of each exam that has no report yet; returns how many."""
    reported = select(ExamReport.study_id)
    rows = session.execute(
        select(CampaignTask.study_id, ConsolidatedRead.assessment, ConsolidatedRead.composition)
        .join(ConsolidatedRead, ConsolidatedRead.campaign_task_id == CampaignTask.id)
        .where(CampaignTask.study_id.not_in(reported))
    )
    by_study: dict[int, list[tuple[str, str]]] = {}
    for study_id, assessment, composition in rows:
        by_study.setdefault(study_id, []).append((assessment, composition))
    adopted = 0
    for study_id, sides in sorted(by_study.items()):
        # An exam's overall assessment is its most actionable breast.
        overall = most_severe(a for a, _ in sides)
        if overall is None:
            continue
        densest = max((c for _, c in sides if c in COMPOSITIONS), default=None)
        record_exam_report(session, study_id, overall.value, ANNOTATION_READER, densest, source=ANNOTATION_SOURCE)
        adopted += 1
    return adopted
