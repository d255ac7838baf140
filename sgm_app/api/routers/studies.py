"""Studies and images: exam reports, rendered views and the built-in viewer page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from emr_core.clinical.exam_reports import current_reports, record_exam_report
from emr_core.clinical.patients import get_patient
from emr_core.clinical.roles import Permission
from emr_core.dicom.render import cached_render
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Series, Study
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented, field_error
from sgm_app.api.inputs import IdPath
from sgm_app.api.record_views import report_view
from sgm_app.api.routers.patients import ref

router = APIRouter(tags=["studies and images"], responses=documented(401, 403, 422))
VIEW_ORDER = ("RCC", "LCC", "RMLO", "LMLO")  # radiologists hang right breast on the viewer's left


class ExamReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assessment: str = Field(min_length=1, max_length=4, description="BI-RADS: 0, 1, 2, 3, 4, 4A, 4B, 4C, 5, 6")
    composition: str | None = Field(default=None, max_length=1, description="a, b, c or d")
    impression: str = Field(default="", max_length=4000)


def _images(session: Any, study_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = session.execute(
        select(
            Series.study_id,
            Instance.sop_instance_uid,
            Instance.laterality,
            Instance.view,
            Instance.rows,
            Instance.columns,
        )
        .join(Series, Series.id == Instance.series_id)
        .where(Series.study_id.in_(study_ids))
        .order_by(Instance.id)
    )
    images: dict[int, list[dict[str, Any]]] = {}
    for study_id, sop, side, view, rows_, cols in rows:
        images.setdefault(study_id, []).append(
            {
                "sop_instance_uid": sop,
                "laterality": side,
                "view": view,
                "rows": rows_,
                "columns": cols,
                "png": f"/images/{sop}.png",
            }
        )
    for items in images.values():
        items.sort(key=_hanging_position)
    return images


def _hanging_position(image: dict[str, Any]) -> int:
    name = f"{image['laterality']}{image['view']}"
    return VIEW_ORDER.index(name) if name in VIEW_ORDER else len(VIEW_ORDER)


def patient_exams(session: Any, patient_id: int) -> list[dict[str, Any]]:
    """The patient's studies, newest first, with the current report and the images in hanging order."""
    get_patient(session, patient_id)
    studies = list(
        session.scalars(select(Study).where(Study.patient_id == patient_id).order_by(Study.study_date.desc(), Study.id))
    )
    ids = [s.id for s in studies]
    images, reports = _images(session, ids), current_reports(session, ids)
    return [
        {
            "id": s.id,
            "study_uid": s.study_uid,
            "study_date": s.study_date,
            "accession_number": s.accession_number,
            "description": s.description,
            "report": report_view(reports.get(s.id)),
            "images": images.get(s.id, []),
        }
        for s in studies
    ]


def _audit_exams_read(ctx: Ctx, patient_id: int, exams: list[dict[str, Any]], event_type: str) -> None:
    """A patient's exams were shown: one audit event counting their images."""
    ctx.audit(
        AuditEventId.PATIENT_RECORD,
        AuditAction.READ,
        event_type=event_type,
        patient_ref=ref(patient_id),
        instance_count=sum(len(e["images"]) for e in exams),
    )


@router.get(
    "/patients/{patient_id}/studies",
    summary="A patient's exams with images and the current report",
    responses=documented(404),
)
def studies(patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_READ))]) -> dict[str, Any]:
    with ctx.read() as session:
        exams = patient_exams(session, patient_id)
    _audit_exams_read(ctx, patient_id, exams, "studies")
    return {"patient_id": patient_id, "studies": exams}


@router.post(
    "/studies/{study_id}/report",
    status_code=201,
    summary="Record the radiologist's assessment of an exam",
    responses=documented(400, 404, 413),
)
def report(
    study_id: IdPath, body: ExamReportIn, ctx: Annotated[Ctx, Depends(require(Permission.EXAM_REPORT_WRITE))]
) -> dict[str, Any]:
    try:
        with ctx.write() as session:
            row = record_exam_report(
                session, study_id, body.assessment, ctx.principal.username, body.composition, body.impression
            )
            study = session.get(Study, study_id)
            assert study is not None  # record_exam_report raised LookupError otherwise
            ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.CREATE,
                event_type="exam_report",
                patient_ref=ref(study.patient_id) if study.patient_id else "",
                study_uid=study.study_uid,
                accession_number=study.accession_number,
                detail={"assessment": row.assessment},
            )
            result = report_view(row)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise field_error(exc) from None
    return {"study_id": study_id, **(result or {})}


@router.get(
    "/images/{sop_instance_uid}.png",
    summary="One image rendered to 8-bit PNG (cached per SOP Instance UID)",
    response_class=FileResponse,
    responses={
        **documented(404),
        200: {
            "description": "PNG image",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def image(sop_instance_uid: str, ctx: Annotated[Ctx, Depends(require(Permission.IMAGE_READ))]) -> FileResponse:
    with ctx.read() as session:
        row = session.execute(
            select(Instance.stored_path, Study.patient_id, Study.study_uid)
            .join(Series, Series.id == Instance.series_id)
            .join(Study, Study.id == Series.study_id)
            .where(Instance.sop_instance_uid == sop_instance_uid)
        ).first()
    if row is None:
        raise ApiError(404, f"image {sop_instance_uid} not found")
    try:
        path = cached_render(ctx.state.settings, sop_instance_uid, row.stored_path)
    except (OSError, ValueError) as exc:
        raise ApiError(422, f"image {sop_instance_uid} cannot be rendered: {exc}") from None
    return image_response(ctx, row.patient_id, row.study_uid, sop_instance_uid, path)


def image_response(ctx: Ctx, patient_id: int | None, study_uid: str, sop_instance_uid: str, png: Path) -> FileResponse:
    """A rendered image as PNG, its reading audited as Instances Accessed (the API's and the web viewer's)."""
    ctx.audit(
        AuditEventId.INSTANCES_ACCESSED,
        AuditAction.READ,
        event_type="render",
        patient_ref=ref(patient_id) if patient_id else "",
        study_uid=study_uid,
        sop_instance_uid=sop_instance_uid,
        instance_count=1,
    )
    return FileResponse(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


def _viewer_html(patient: dict[str, Any], exams: list[dict[str, Any]]) -> str:
    esc = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(patient['full_name'])}</title>"
        "<style>body{font-family:sans-serif;background:#111;color:#eee;margin:1em}"
        ".views{display:flex;gap:6px}.views figure{margin:0}img{height:360px;background:#000}</style></head><body>",
        f"<h1>{esc(patient['full_name'])} <small>born {esc(str(patient['birth_date'] or '?'))}</small></h1>",
    ]
    for exam in exams:
        rep = exam["report"]
        assessment = f"BI-RADS {esc(rep['assessment'])}" if rep else "not reported"
        when = esc(str(exam["study_date"] or "undated"))
        parts.append(f"<h2>{when} · {esc(exam['accession_number'])} · {assessment}</h2><div class='views'>")
        for img in exam["images"]:
            label = esc(f"{img['laterality'] or '?'}{img['view'] or '?'}")
            image = f"<img alt='{label}' src='{esc(img['png'])}' loading='lazy'>"
            parts.append(f"<figure>{image}<figcaption>{label}</figcaption></figure>")
        parts.append("</div>" if exam["images"] else "<p>no images</p></div>")
    return "".join(parts) + "</body></html>"


@router.get(
    "/patients/{patient_id}/viewer",
    response_class=HTMLResponse,
    summary="The built-in viewer: exams with their four views",
    responses=documented(404),
)
def viewer(patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.IMAGE_READ))]) -> HTMLResponse:
    with ctx.read() as session:
        patient = get_patient(session, patient_id)
        info = {"full_name": patient.full_name, "birth_date": patient.birth_date}
        exams = patient_exams(session, patient_id)
    _audit_exams_read(ctx, patient_id, exams, "viewer")
    return HTMLResponse(_viewer_html(info, exams))
