"""Clinical forms: versioned JSON-Schema templates and a patient's submissions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from emr_core.clinical.form_schema import check_template
from emr_core.clinical.forms import (
    FormInvalid,
    add_template_version,
    check_submission,
    latest_template,
    store_submission,
)
from emr_core.clinical.patients import writable_patient
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_clinical import FormSubmission, FormTemplate
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented, field_error
from sgm_app.api.inputs import DbId, IdPath
from sgm_app.api.record_views import submission_view
from sgm_app.api.routers.patients import ref

router = APIRouter(tags=["clinical forms"], responses=documented(401, 403, 422))
FormName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    json_schema: dict[str, Any]


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any]
    version: DbId | None = Field(default=None, description="template version; the latest when omitted")


def _template_view(t: FormTemplate) -> dict[str, Any]:
    return {
        "name": t.name,
        "version": t.version,
        "title": t.title,
        "json_schema": t.json_schema,
        "created_at": t.created_at,
    }


@router.get("/form-templates", summary="The latest version of every form template")
def templates(ctx: Annotated[Ctx, Depends(require(Permission.FORM_READ))]) -> list[dict[str, Any]]:
    with ctx.read() as session:
        names = session.scalars(select(FormTemplate.name).distinct().order_by(FormTemplate.name)).all()
        return [_template_view(latest_template(session, n)) for n in names]  # type: ignore[arg-type]


@router.get(
    "/form-templates/{name}/versions/{version}",
    summary="One template version (old ones stay readable)",
    responses=documented(404),
)
def template_version(
    name: FormName, version: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.FORM_READ))]
) -> dict[str, Any]:
    with ctx.read() as session:
        t = session.scalar(select(FormTemplate).where(FormTemplate.name == name, FormTemplate.version == version))
        if t is None:
            raise ApiError(404, f"form template {name} version {version} not found")
        return _template_view(t)


@router.post(
    "/form-templates/{name}",
    status_code=201,
    summary="Publish a new version of a template",
    responses=documented(400, 413),
)
def publish(
    name: FormName, body: TemplateIn, ctx: Annotated[Ctx, Depends(require(Permission.TEMPLATE_WRITE))]
) -> dict[str, Any]:
    try:
        check_template(body.json_schema)  # outside the write lock: other requests never wait on it
        with ctx.write() as session:
            t = add_template_version(session, name, body.json_schema, ctx.principal.username)
            ctx.log(
                session,
                AuditEventId.APPLICATION_ACTIVITY,
                AuditAction.CREATE,
                event_type="form_template",
                detail={"name": name, "version": t.version},
            )
            return _template_view(t)
    except ValueError as exc:
        raise field_error(exc) from None


def _template_for(session: Any, name: str, version: int | None) -> FormTemplate:
    stmt = select(FormTemplate).where(FormTemplate.name == name)
    t = session.scalar(stmt.where(FormTemplate.version == version)) if version else latest_template(session, name)
    if t is None:
        raise ApiError(404, f"form template {name}{f' version {version}' if version else ''} not found")
    return t


@router.post(
    "/patients/{patient_id}/forms/{name}",
    status_code=201,
    summary="Fill a form for a patient (validated)",
    responses=documented(400, 404, 409, 413),
)
def submit(
    patient_id: IdPath, name: FormName, body: SubmissionIn, ctx: Annotated[Ctx, Depends(require(Permission.FORM_WRITE))]
) -> dict[str, Any]:
    try:
        with ctx.read() as session:
            writable_patient(session, patient_id)
            template = _template_for(session, name, body.version)
        # Template versions never change, so the (CPU-bound) validation runs before and outside the write lock.
        check_submission(template, body.data)
        with ctx.write() as session:
            writable_patient(session, patient_id)
            row = store_submission(session, patient_id, template, body.data, ctx.principal.username)
            ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.CREATE,
                event_type="form_submission",
                patient_ref=ref(patient_id),
                detail={"form": name, "version": template.version, "submission": row.id},
            )
            return submission_view(row, template)
    except FormInvalid as exc:
        errors = [{"field": ".".join(["data", *map(str, e.path)]), "message": e.message} for e in exc.errors]
        message = "invalid form data: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ApiError(422, message, errors=errors) from None


@router.get("/patients/{patient_id}/forms", summary="A patient's form submissions, each with its template version")
def submissions(
    patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.FORM_READ))]
) -> list[dict[str, Any]]:
    with ctx.read() as session:
        rows = session.execute(
            select(FormSubmission, FormTemplate)
            .join(FormTemplate, FormTemplate.id == FormSubmission.template_id)
            .where(FormSubmission.patient_id == patient_id)
            .order_by(FormSubmission.id)
        ).all()
        result = [submission_view(s, t) for s, t in rows]
    ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="form_submissions", patient_ref=ref(patient_id))
    return result
