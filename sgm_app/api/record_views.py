"""Plain-dict views of rows for JSON responses (identified data: never used by the research router)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from emr_core.models import Patient, PatientIdentifier
from emr_core.models_clinical import ExamReport, FormSubmission, FormTemplate, PatientFile, Task


def patient_summary(patient: Patient) -> dict[str, Any]:
    return {
        "id": patient.id,
        "full_name": patient.full_name,
        "birth_date": patient.birth_date,
        "sex": patient.sex,
        "provisional": patient.provisional,
    }


_IDENTIFIERS = (
    select(PatientIdentifier.value, PatientIdentifier.issuer)
    .where(PatientIdentifier.patient_id == bindparam("pid"))
    .order_by(PatientIdentifier.id)
)


def identifiers(session: Session, patient_id: int) -> list[dict[str, str]]:
    rows = session.execute(_IDENTIFIERS, {"pid": patient_id})
    return [{"value": v, "issuer": i} for v, i in rows]


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "patient_id": task.patient_id,
        "study_id": task.study_id,
        "kind": task.kind,
        "title": task.title,
        "due_date": task.due_date,
        "status": task.status,
        "assignee_role": task.assignee_role,
        "assignee_user_id": task.assignee_user_id,
        "rule_id": task.rule_id,
        "parent_task_id": task.parent_task_id,
        "note": task.note,
        "closed_at": task.closed_at,
        "closed_by": task.closed_by,
    }


def report_view(report: ExamReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "id": report.id,
        "assessment": report.assessment,
        "composition": report.composition,
        "impression": report.impression,
        "source": report.source,
        "reported_by": report.reported_by,
        "reported_at": report.reported_at,
    }


def file_view(row: PatientFile) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "filename": row.filename,
        "category": row.category,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "uploaded_by": row.uploaded_by,
        "uploaded_at": row.uploaded_at,
        "download": f"/files/{row.id}/content",
    }


def submission_view(row: FormSubmission, template: FormTemplate) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "form": template.name,
        "version": template.version,
        "data": row.data,
        "submitted_by": row.submitted_by,
        "submitted_at": row.submitted_at,
    }
