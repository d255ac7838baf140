"""Patients: search, create, the patient page, demographics and merging."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from emr_core.clinical.patients import (
    Demographics,
    PatientNotFound,
    get_patient,
    merge_patients,
    merged_into,
    update_demographics,
)
from emr_core.clinical.roles import Permission
from emr_core.clinical.search import (
    SearchQuery,
    has_unindexed_patients,
    index_created_patient,
    index_new_patients,
    search_patients,
)
from emr_core.enums import AuditAction, AuditEventId
from emr_core.linking.names import name_key
from emr_core.models import Patient, PatientIdentifier, Study
from emr_core.models_clinical import ExamReport, Task
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented, field_error
from sgm_app.api.inputs import BirthDate, DbId, IdPath, IsoDate, PersonName
from sgm_app.api.record_views import identifiers, patient_summary, report_view, task_view

router = APIRouter(prefix="/patients", tags=["patients"], responses=documented(401, 403, 422))
Sex = Annotated[str, Field(pattern="^[FMO]$")]


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=64)
    issuer: str = Field(default="", max_length=64)


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: PersonName
    birth_date: BirthDate | None = None
    sex: Sex | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)


class PatientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: PersonName | None = None
    birth_date: BirthDate | None = None
    sex: Sex | None = None


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_patient_id: DbId
    reason: str = Field(default="", max_length=500)


def ref(patient_id: int) -> str:
    """How the audit log names an EMR patient."""
    return f"emr:{patient_id}"


@router.get("", summary="Search patients by name (diacritics optional), identifier or birth date")
def search(
    ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_READ))],
    name: Annotated[str, Query(max_length=200)] = "",
    identifier: Annotated[str, Query(max_length=64)] = "",
    birth_date: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if not (name.strip() or identifier.strip() or birth_date):
        raise ApiError(422, "name: give at least one of name, identifier, birth_date", "name")
    with ctx.read() as session:
        pending = has_unindexed_patients(session)
    if pending:  # patients from the registry import or the linker since the last search
        with ctx.write() as session:
            index_new_patients(session)
    with ctx.read() as session:
        result = search_patients(session, SearchQuery(name, identifier, birth_date, limit))
        found = [patient_summary(p) for p in result.patients]
    ctx.audit(
        AuditEventId.QUERY,
        AuditAction.EXECUTE,
        event_type="patient_search",
        detail={"name": name, "identifier": identifier, "birth_date": str(birth_date or ""), "results": len(found)},
    )
    return {"results": found, "count": len(found), "truncated": result.truncated}


@router.post("", status_code=201, summary="Create a patient record", responses=documented(400, 409, 413))
def create(body: PatientIn, ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_WRITE))]) -> dict[str, Any]:
    try:
        with ctx.write() as session:
            patient = Patient(
                full_name=body.full_name, name_key=name_key(body.full_name), birth_date=body.birth_date, sex=body.sex
            )
            session.add(patient)
            session.flush()
            session.add_all(
                PatientIdentifier(patient_id=patient.id, value=i.value, issuer=i.issuer) for i in body.identifiers
            )
            index_created_patient(session, patient.id, patient.full_name)
            session.flush()
            ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.CREATE,
                event_type="patient",
                patient_ref=ref(patient.id),
            )
            result = patient_summary(patient)
    except IntegrityError:
        raise ApiError(
            409, "identifiers: an identifier with that issuer already belongs to a patient", "identifiers"
        ) from None
    return result


# The patient page is the hottest read: its statements are built once, with the patient id bound per call.
_PID = bindparam("pid", type_=Integer)
_LATER = aliased(ExamReport)
_NEWEST = select(func.max(_LATER.id)).where(_LATER.study_id == Study.id).correlate(Study).scalar_subquery()
PAGE_STUDIES = (
    select(Study, ExamReport)
    .outerjoin(ExamReport, ExamReport.id == _NEWEST)
    .where(Study.patient_id == _PID)
    .order_by(Study.study_date.desc(), Study.id)
)
PAGE_TASKS = select(Task).where(Task.patient_id == _PID, Task.status == "open").order_by(Task.due_date)
PAGE_PATIENT = select(Patient).where(Patient.id == _PID)


def _page(session: Any, patient_id: int) -> dict[str, Any]:
    """Everything the patient page shows, in five indexed queries."""
    patient = session.scalar(PAGE_PATIENT, {"pid": patient_id})
    if patient is None:
        raise PatientNotFound(f"patient {patient_id} not found")
    studies = session.execute(PAGE_STUDIES, {"pid": patient_id}).all()
    tasks = session.scalars(PAGE_TASKS, {"pid": patient_id})
    return {
        **patient_summary(patient),
        "identifiers": identifiers(session, patient_id),
        "merged_into": merged_into(session, patient_id),
        "studies": [
            {
                "id": s.id,
                "study_uid": s.study_uid,
                "study_date": s.study_date,
                "accession_number": s.accession_number,
                "description": s.description,
                "report": report_view(r),
            }
            for s, r in studies
        ],
        "open_tasks": [task_view(t) for t in tasks],
        "links": {
            "viewer": f"/patients/{patient_id}/viewer",
            "forms": f"/patients/{patient_id}/forms",
            "files": f"/patients/{patient_id}/files",
            "tasks": f"/patients/{patient_id}/tasks",
        },
    }


@router.get(
    "/{patient_id}", summary="The patient page: demographics, identifiers, exams, open tasks", responses=documented(404)
)
async def page(patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_READ))]) -> dict[str, Any]:
    # The hottest read: only the queries take a handler thread; the audit commit is awaited on the loop.
    result = await to_thread.run_sync(_read_page, ctx, patient_id)
    await ctx.audit_from_loop(
        AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="patient", patient_ref=ref(patient_id)
    )
    return result


def _read_page(ctx: Ctx, patient_id: int) -> dict[str, Any]:
    with ctx.read() as session:
        return _page(session, patient_id)


@router.patch("/{patient_id}", summary="Correct demographics", responses=documented(400, 404, 409, 413))
def patch(
    patient_id: IdPath, body: PatientPatch, ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_WRITE))]
) -> dict[str, Any]:
    with ctx.write() as session:
        changed = update_demographics(session, patient_id, Demographics(**body.model_dump()))
        ctx.log(
            session,
            AuditEventId.PATIENT_RECORD,
            AuditAction.UPDATE,
            event_type="patient",
            patient_ref=ref(patient_id),
            detail={"changed": sorted(changed)},
        )
        result = patient_summary(get_patient(session, patient_id))
    return {**result, "changed": sorted(changed)}


@router.post(
    "/{patient_id}/merge",
    summary="Merge another record of the same person into this one",
    responses=documented(400, 404, 409, 413),
)
def merge(
    patient_id: IdPath, body: MergeIn, ctx: Annotated[Ctx, Depends(require(Permission.PATIENT_MERGE))]
) -> dict[str, Any]:
    try:
        with ctx.write() as session:
            record = merge_patients(session, body.source_patient_id, patient_id, ctx.principal.username)
            moved = {k: len(v) for k, v in record.moved.items()}
            for pid, role in ((body.source_patient_id, "source"), (patient_id, "target")):
                ctx.log(
                    session,
                    AuditEventId.PATIENT_RECORD,
                    AuditAction.UPDATE,
                    event_type="patient_merge",
                    patient_ref=ref(pid),
                    detail={
                        "role": role,
                        "source": body.source_patient_id,
                        "target": patient_id,
                        "moved": record.moved,
                        "reason": body.reason,
                    },
                )
    except ValueError as exc:
        raise field_error(exc, 409) from None
    return {
        "merge_id": record.id,
        "source_patient_id": body.source_patient_id,
        "target_patient_id": patient_id,
        "moved": moved,
    }
