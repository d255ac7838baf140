"""Clinical forms from their JSON Schema templates: fill, save, view and the history across versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from emr_core.clinical.forms import FormInvalid, check_submission, latest_template, store_submission
from emr_core.clinical.patients import PatientNotFound, get_patient, merged_away_into, writable_patient
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_clinical import FormSubmission, FormTemplate
from sgm_app.api.routers.patients import ref
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.render import gettext_for
from sgm_app.web.schema_form import Parsed, error_kind, flatten, label_paths, parse, widgets

router = APIRouter(prefix="/ui/patients/{patient_id}/forms", include_in_schema=False)
Reader = Annotated[Web, Depends(signed_in(Permission.FORM_READ))]
Writer = Annotated[Web, Depends(signed_in(Permission.FORM_WRITE))]
FormName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


def _audit(web: Web, patient_id: int, event_type: str, **detail: Any) -> None:
    web.ctx.audit(
        AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type=event_type, patient_ref=ref(patient_id), detail=detail
    )


@router.get("")
def listing(web: Reader, patient_id: int) -> Response:
    try:
        with web.ctx.read() as session:
            patient = get_patient(session, patient_id)
            survivor = merged_away_into(session, patient_id)
            names = session.scalars(select(FormTemplate.name).distinct().order_by(FormTemplate.name)).all()
            templates = [latest_template(session, n) for n in names]
            history = session.execute(
                select(FormSubmission, FormTemplate)
                .join(FormTemplate, FormTemplate.id == FormSubmission.template_id)
                .where(FormSubmission.patient_id == patient_id)
                .order_by(FormSubmission.id.desc())
            ).all()
            session.expunge_all()
    except PatientNotFound:
        return web.page("not_found.html", 404)
    _audit(web, patient_id, "form_submissions")
    return web.page("forms/list.html", patient=patient, templates=templates, history=history, survivor=survivor)


def _template(session: Any, name: str, version: int | None) -> FormTemplate | None:
    if version:
        stmt = select(FormTemplate).where(FormTemplate.name == name, FormTemplate.version == version)
        return session.scalar(stmt)
    return latest_template(session, name)


def _words(web: Web, parsed_errors: dict[str, str], schema_errors: list[Any]) -> dict[str, str]:
    """Every error in the user's language, keyed by the field's input name."""
    _ = gettext_for(web.request)
    wording = {
        "required": _("This field is required."),
        "choice": _("Choose one of the listed values."),
        "integer": _("Enter a whole number."),
        "number": _("Enter a number."),
        "type": _("Enter a value of the right kind."),
        "too_long": _("This text is too long."),
        "unknown": _("This field is not part of the form."),
    }
    out = {name: wording.get(kind, kind) for name, kind in parsed_errors.items()}
    for error in schema_errors:
        name, kind, limit = error_kind(error)
        if kind == "maximum":
            out.setdefault(name, _("Must be at most %(limit)s.", limit=limit))
        elif kind == "minimum":
            out.setdefault(name, _("Must be at least %(limit)s.", limit=limit))
        else:
            out.setdefault(name, wording.get(kind, limit))
    return out


def _form_page(
    web: Web,
    patient: Any,
    template: FormTemplate,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    data: Any = None,
) -> Response:
    fields = widgets(template.json_schema, data)
    return web.page(
        "forms/fill.html",
        status,
        patient=patient,
        template=template,
        fields=fields,
        values=values,
        errors=errors,
        labels=label_paths(fields),  # the error summary names fields as the form shows them, in its order
    )


@router.get("/{name}/fill")
def fill(web: Writer, patient_id: int, name: FormName, version: int | None = None) -> Response:
    with web.ctx.read() as session:
        try:
            # A merged-away record: the 409 page names the survivor before anyone types a form in vain.
            patient = writable_patient(session, patient_id)
        except PatientNotFound:
            return web.page("not_found.html", 404)
        template = _template(session, name, version)
        session.expunge_all()
    if template is None:
        return web.page("not_found.html", 404)
    _audit(web, patient_id, "form_fill", form=name)
    return _form_page(web, patient, template, {}, {})


def _save(web: Web, patient_id: int, name: str, version: int | None, form: dict[str, str]) -> Response:
    web.check_csrf(form.get("csrf_token", ""))
    with web.ctx.read() as session:
        try:
            patient = get_patient(session, patient_id)
        except PatientNotFound:
            return web.page("not_found.html", 404)
        template = _template(session, name, version)
        session.expunge_all()
    if template is None:
        return web.page("not_found.html", 404)
    parsed: Parsed = parse(template.json_schema, form)
    schema_errors: list[Any] = []
    if not parsed.errors:
        try:
            submission_id = _store(web, patient_id, template, parsed.data)
            return web.redirect(f"/ui/patients/{patient_id}/forms/submissions/{submission_id}?saved=1")
        except FormInvalid as exc:  # nothing was written: the transaction rolled back
            schema_errors = exc.errors
    errors = _words(web, parsed.errors, schema_errors)
    return _form_page(web, patient, template, parsed.typed, errors, 422, parsed.data)


def _store(web: Web, patient_id: int, template: FormTemplate, data: dict[str, Any]) -> int:
    check_submission(template, data)  # validation never runs inside the write lock
    with web.ctx.write() as session:
        writable_patient(session, patient_id)  # PatientMergedError: the 409 page names the surviving record
        row = store_submission(session, patient_id, template, data, web.ctx.principal.username)
        web.ctx.log(
            session,
            AuditEventId.PATIENT_RECORD,
            AuditAction.CREATE,
            event_type="form_submission",
            patient_ref=ref(patient_id),
            detail={"form": template.name, "version": template.version, "submission": row.id},
        )
        return row.id


@router.post("/{name}/fill")
async def save(request: Request, web: Writer, patient_id: int, name: FormName) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    return await run_in_threadpool(_save, web, patient_id, name, version, form)


@router.get("/submissions/{submission_id}")
def view(web: Reader, patient_id: int, submission_id: int) -> Response:
    with web.ctx.read() as session:
        row = session.execute(
            select(FormSubmission, FormTemplate)
            .join(FormTemplate, FormTemplate.id == FormSubmission.template_id)
            .where(FormSubmission.id == submission_id, FormSubmission.patient_id == patient_id)
        ).first()
        patient = get_patient(session, patient_id) if row else None
        session.expunge_all()
    if row is None:
        return web.page("not_found.html", 404)
    submission, template = row
    _audit(web, patient_id, "form_submission", submission=submission_id)
    fields = widgets(template.json_schema, submission.data)
    values = flatten(submission.data)
    return web.page(
        "forms/view.html", patient=patient, template=template, submission=submission, fields=fields, values=values
    )
