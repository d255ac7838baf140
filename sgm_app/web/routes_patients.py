"""Patients: search as you type, the chart, registering a patient and correcting demographics."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from emr_core.clinical.patients import (
    Demographics,
    PatientNotFound,
    merge_patients,
    update_demographics,
    writable_patient,
)
from emr_core.clinical.roles import Permission
from emr_core.clinical.search import (
    has_unindexed_patients,
    index_created_patient,
    index_new_patients,
    search_patients,
)
from emr_core.enums import AuditAction, AuditEventId
from emr_core.linking.names import name_key
from emr_core.models import Patient, PatientIdentifier, utcnow
from sgm_app.api.routers.patients import ref
from sgm_app.web.chart import chart, parse_query
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.render import gettext_for, translate

router = APIRouter(prefix="/ui/patients", include_in_schema=False)
Reader = Annotated[Web, Depends(signed_in(Permission.PATIENT_READ))]
Writer = Annotated[Web, Depends(signed_in(Permission.PATIENT_WRITE))]
Text = Annotated[str, Form(max_length=200)]


def _search(web: Web, q: str) -> tuple[list[Patient], bool]:
    query = parse_query(q)
    if query is None:
        return [], False
    with web.ctx.read() as session:
        if has_unindexed_patients(session):  # patients from the registry import or the linker since the last search
            session.rollback()
            with web.ctx.write() as writer:
                index_new_patients(writer)
        result = search_patients(session, query)
        found = list(result.patients)
        session.expunge_all()
    web.ctx.audit(
        AuditEventId.QUERY,
        AuditAction.EXECUTE,
        event_type="patient_search",
        detail={"query": q[:200], "results": len(found), "via": "web"},
    )
    return found, result.truncated


@router.get("")
def search_page(web: Reader, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    found, truncated = _search(web, q)
    return web.page("patients/search.html", q=q, found=found, truncated=truncated)


@router.get("/results")
def search_results(web: Reader, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The results table alone, for the search box's as-you-type requests."""
    found, truncated = _search(web, q)
    return web.page("patients/results.html", q=q, found=found, truncated=truncated)


@router.get("/{patient_id}")
def chart_page(web: Reader, patient_id: int) -> Response:
    return _chart_page(web, patient_id)


def _chart_page(web: Web, patient_id: int, status: int = 200, **values: Any) -> Response:
    try:
        with web.ctx.read() as session:
            data = chart(session, patient_id, utcnow().date())
            session.expunge_all()
    except PatientNotFound:
        return web.page("not_found.html", 404)
    web.ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="patient", patient_ref=ref(patient_id))
    values.setdefault("merge_form", {})
    return web.page("patients/chart.html", status, **data, **values)


def _demographics(web: Web, full_name: str, birth_date: str, sex: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse the form; errors are keyed by field and written in the user's language."""
    _ = gettext_for(web.request)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"full_name": full_name.strip(), "birth_date": None, "sex": sex or None}
    if not values["full_name"]:
        errors["full_name"] = _("Enter the patient's full name.")
    if birth_date:
        try:
            values["birth_date"] = date.fromisoformat(birth_date)
        except ValueError:
            errors["birth_date"] = _("Enter a date as YYYY-MM-DD.")
        else:
            if values["birth_date"] > utcnow().date() or values["birth_date"].year < 1900:
                errors["birth_date"] = _("The birth date must be between 1900 and today.")
    if sex not in ("", "F", "M", "O"):
        errors["sex"] = _("Choose one of the listed values.")
    return values, errors


@router.get("/new/form")
def new_form(web: Writer) -> Response:
    return web.page("patients/new.html", form={}, errors={})


@router.post("/new/form")
def register(
    web: Writer,
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    identifier: Annotated[str, Form(max_length=64)] = "",
    issuer: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Text = "",
) -> Response:
    web.check_csrf(csrf_token)
    form = {"full_name": full_name, "birth_date": birth_date, "sex": sex, "identifier": identifier, "issuer": issuer}
    values, errors = _demographics(web, full_name, birth_date, sex)
    if not errors:
        try:
            return web.redirect(f"/ui/patients/{_create(web, values, identifier.strip(), issuer.strip())}")
        except IntegrityError:
            errors["identifier"] = translate(web.request, "This identifier already belongs to another patient.")
    return web.page("patients/new.html", 422, form=form, errors=errors)


def _create(web: Web, values: dict[str, Any], identifier: str, issuer: str) -> int:
    """The patient, their identifier, search keys and audit event: one transaction, all or nothing."""
    with web.ctx.write() as session:
        patient = Patient(name_key=name_key(values["full_name"]), **values)
        session.add(patient)
        session.flush()
        if identifier:
            session.add(PatientIdentifier(patient_id=patient.id, value=identifier, issuer=issuer))
        index_created_patient(session, patient.id, patient.full_name)
        session.flush()
        web.ctx.log(
            session, AuditEventId.PATIENT_RECORD, AuditAction.CREATE, event_type="patient", patient_ref=ref(patient.id)
        )
        return patient.id


@router.get("/{patient_id}/edit")
def edit_form(web: Writer, patient_id: int) -> Response:
    try:
        with web.ctx.read() as session:
            p = writable_patient(session, patient_id)  # PatientMergedError: the 409 page names the survivor
            form = {"full_name": p.full_name, "birth_date": str(p.birth_date or ""), "sex": p.sex or ""}
    except PatientNotFound:
        return web.page("not_found.html", 404)
    web.ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="patient", patient_ref=ref(patient_id))
    return web.page("patients/edit.html", patient_id=patient_id, form=form, errors={})


@router.post("/{patient_id}/edit")
def edit(
    web: Writer, patient_id: int, full_name: Text = "", birth_date: Text = "", sex: Text = "", csrf_token: Text = ""
) -> Response:
    web.check_csrf(csrf_token)
    form = {"full_name": full_name, "birth_date": birth_date, "sex": sex}
    values, errors = _demographics(web, full_name, birth_date, sex)
    if errors:
        return web.page("patients/edit.html", 422, patient_id=patient_id, form=form, errors=errors)
    try:
        with web.ctx.write() as session:
            changed = update_demographics(session, patient_id, Demographics(**values))
            web.ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.UPDATE,
                event_type="patient",
                patient_ref=ref(patient_id),
                detail={"changed": sorted(changed)},
            )
    except PatientNotFound:
        return web.page("not_found.html", 404)
    return web.redirect(f"/ui/patients/{patient_id}?saved=1")


Merger = Annotated[Web, Depends(signed_in(Permission.PATIENT_MERGE))]


@router.post("/{patient_id}/merge")
def merge(
    web: Merger,
    patient_id: int,
    source: Text = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Text = "",
) -> Response:
    """Merge another record of the same person into this one (everything moves; the source stays, marked)."""
    web.check_csrf(csrf_token)
    _ = gettext_for(web.request)
    source_id = int(source.lstrip("#")) if source.lstrip("#").isdigit() else None
    error = None if source_id is not None else _("Enter the record number to merge, e.g. 42.")
    if source_id is not None:
        try:
            with web.ctx.write() as session:
                record = merge_patients(session, source_id, patient_id, web.ctx.principal.username)
                for pid, role in ((source_id, "source"), (patient_id, "target")):
                    web.ctx.log(
                        session,
                        AuditEventId.PATIENT_RECORD,
                        AuditAction.UPDATE,
                        event_type="patient_merge",
                        patient_ref=ref(pid),
                        detail={
                            "role": role,
                            "source": source_id,
                            "target": patient_id,
                            "moved": record.moved,
                            "reason": reason,
                            "via": "web",
                        },
                    )
        except PatientNotFound:
            error = _("There is no record with that number.")
        except ValueError:
            error = _("These two records cannot be merged (the same record, or one was already merged).")
    if error is not None:
        return _chart_page(web, patient_id, 422, merge_error=error, merge_form={"source": source, "reason": reason})
    return web.redirect(f"/ui/patients/{patient_id}?merged={source_id}")
