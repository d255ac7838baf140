"""What the patient chart shows, read in a handful of indexed queries."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.clinical.exam_reports import current_reports
from emr_core.clinical.patients import get_patient, merged_into
from emr_core.clinical.search import SearchQuery
from emr_core.models import Instance, Series, Study
from emr_core.models_clinical import FormSubmission, FormTemplate, PatientFile, PatientMerge, Task
from sgm_app.api.record_views import identifiers

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _as_date(token: str) -> date | None:
    """2026-01-31 or 31/01/2026 (the Vietnamese order); None when it is not a valid date."""
    if m := _ISO.match(token):
        y, mo, d = (int(g) for g in m.groups())
    elif m := _DMY.match(token):
        d, mo, y = (int(g) for g in m.groups())
    else:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_query(text: str, limit: int = 25) -> SearchQuery | None:
    """One search box: a date is a birth date, a word with digits an identifier, the rest a name."""
    name, identifier, born = [], "", None
    for token in text.split()[:12]:
        if (when := _as_date(token)) is not None:
            born = when
        elif any(ch.isdigit() for ch in token) and not identifier:
            identifier = token[:64]
        else:
            name.append(token)
    if not (name or identifier or born):
        return None
    return SearchQuery(" ".join(name)[:200], identifier, born, limit)


def _studies(session: Session, patient_id: int) -> list[dict[str, Any]]:
    studies = list(
        session.scalars(select(Study).where(Study.patient_id == patient_id).order_by(Study.study_date.desc(), Study.id))
    )
    ids = [s.id for s in studies]
    reports = current_reports(session, ids)
    counts: dict[int, int] = {}
    for study_id in session.scalars(
        select(Series.study_id).join(Instance, Instance.series_id == Series.id).where(Series.study_id.in_(ids))
    ):
        counts[study_id] = counts.get(study_id, 0) + 1
    return [{"study": s, "report": reports.get(s.id), "images": counts.get(s.id, 0)} for s in studies]


def chart(session: Session, patient_id: int, today: date) -> dict[str, Any]:
    """Demographics, identifiers, merges, studies, forms, files, tasks and the follow-up schedule."""
    patient = get_patient(session, patient_id)
    tasks = list(session.scalars(select(Task).where(Task.patient_id == patient_id).order_by(Task.due_date, Task.id)))
    forms = session.execute(
        select(FormSubmission, FormTemplate)
        .join(FormTemplate, FormTemplate.id == FormSubmission.template_id)
        .where(FormSubmission.patient_id == patient_id)
        .order_by(FormSubmission.id.desc())
    ).all()
    return {
        "patient": patient,
        "identifiers": identifiers(session, patient_id),
        "merged_into": merged_into(session, patient_id),
        "merged_from": list(session.scalars(select(PatientMerge).where(PatientMerge.target_patient_id == patient_id))),
        "studies": _studies(session, patient_id),
        "forms": forms,
        "files": list(session.scalars(select(PatientFile).where(PatientFile.patient_id == patient_id))),
        "open_tasks": [t for t in tasks if t.status == "open"],
        "closed_tasks": [t for t in tasks if t.status != "open"],
        "today": today,
    }
