"""The mammography viewer: the standard hanging at full resolution (OpenSeadragon), a prior, findings and model
predictions drawn on it."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import select

from emr_core.clinical.exam_reports import current_reports
from emr_core.clinical.patients import PatientNotFound, get_patient
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Series, Study
from sgm_app.api.routers.patients import ref
from sgm_app.api.routers.studies import image_response
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.hanging import chosen_runs, full_resolution_png, patient_studies, study_views
from sgm_models.predictions import done_runs

router = APIRouter(include_in_schema=False)
Reader = Annotated[Web, Depends(signed_in(Permission.IMAGE_READ))]
# AI boxes scoring below this start hidden: a detector's many near-zero candidates would bury the image. The
# reader lowers it (to 0 for every box) or raises it in the viewer; the form keeps the choice.
AI_MIN_SCORE = 0.1


def _day(study: Study) -> date:
    return study.study_date or date.min


def _prior(studies: list[Study], current: Study | None, prior: int | None) -> Study | None:
    """The asked-for prior; 0 (the form's "None") for none; when not asked, the newest study not after the current."""
    if prior == 0:
        return None
    older = [s for s in studies if current and s.id != current.id and _day(s) <= _day(current)]
    return next((s for s in studies if s.id == prior), older[0] if older else None)


@router.get("/ui/patients/{patient_id}/viewer")
def viewer(
    web: Reader,
    patient_id: int,
    study: int | None = None,
    prior: int | None = None,
    ai: int | None = None,
    ai_shown: bool = False,
    ai_min: Annotated[float, Query(ge=0, le=1)] = AI_MIN_SCORE,
) -> Response:
    settings = web.ctx.state.settings
    try:
        with web.ctx.read() as session:
            patient = get_patient(session, patient_id)
            studies = patient_studies(session, patient_id)
            current = next((s for s in studies if s.id == study), studies[0] if studies else None)
            chosen_prior = _prior(studies, current, prior)
            shown = [s for s in (current, chosen_prior) if s is not None]
            runs = {s.id: done_runs(session, s.id) for s in shown}
            chosen = chosen_runs(runs, current.id if current else None, ai)
            hung = {s.id: study_views(session, settings, s.id, chosen.get(s.id)) for s in shown}
            reports = current_reports(session, [s.id for s in shown])
            session.expunge_all()
    except PatientNotFound:
        return web.page("not_found.html", 404)
    web.ctx.audit(
        AuditEventId.PATIENT_RECORD,
        AuditAction.READ,
        event_type="viewer",
        patient_ref=ref(patient_id),
        instance_count=sum(len(v) for v in hung.values()),
        detail={"model_runs": [f"{r.model_name} {r.model_version}" for r in chosen.values()]},
    )
    return web.page(
        "viewer.html",
        patient=patient,
        studies=studies,
        current=current,
        prior=chosen_prior,
        hung=hung,
        reports=reports,
        runs=runs.get(current.id, []) if current else [],
        chosen=chosen,
        ai_shown=ai_shown,
        ai_min=ai_min,
    )


@router.get("/ui/images/{sop_instance_uid}.png")
def image(web: Reader, sop_instance_uid: str, mirrored: int = 0) -> Response:
    with web.ctx.read() as session:
        row = session.execute(
            select(Instance.stored_path, Instance.rows, Instance.columns, Study.patient_id, Study.study_uid)
            .join(Series, Series.id == Instance.series_id)
            .join(Study, Study.id == Series.study_id)
            .where(Instance.sop_instance_uid == sop_instance_uid)
        ).first()
    if row is None or not row.rows or not row.columns:
        return web.page("not_found.html", 404)
    settings = web.ctx.state.settings
    try:
        path = full_resolution_png(
            settings, sop_instance_uid, row.stored_path, max(row.rows, row.columns), bool(mirrored)
        )
    except (OSError, ValueError):
        return web.page("not_found.html", 422)
    return image_response(web.ctx, row.patient_id, row.study_uid, sop_instance_uid, path)
