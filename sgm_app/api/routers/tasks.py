"""Tasks: per user (assigned to me or my role), per patient, manual tasks and closing them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from emr_core.clinical.followup import CLOSED_STATUSES, OPEN
from emr_core.clinical.patients import writable_patient
from emr_core.clinical.roles import Permission, Role
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import utcnow
from emr_core.models_clinical import Task, User
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented
from sgm_app.api.inputs import DbId, IdPath, IsoDate
from sgm_app.api.record_views import task_view
from sgm_app.api.routers.patients import ref

router = APIRouter(tags=["tasks"], responses=documented(401, 403, 422))
StatusFilter = Literal["open", "done", "cancelled", "superseded", "all"]


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="manual", min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    due_date: IsoDate
    assignee_role: Role = Role.CLINICIAN
    assignee_user_id: DbId | None = None
    note: str = Field(default="", max_length=4000)


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["done", "cancelled"] | None = None
    assignee_user_id: DbId | None = None
    note: str | None = Field(default=None, max_length=4000)


def _filtered(stmt: Any, status: str) -> Any:
    return stmt if status == "all" else stmt.where(Task.status == status)


@router.get("/tasks/mine", summary="Tasks assigned to me, or to my role and to nobody in particular")
def mine(
    ctx: Annotated[Ctx, Depends(require(Permission.TASK_READ))],
    status: StatusFilter = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    me = ctx.principal
    stmt = select(Task).where(
        or_(Task.assignee_user_id == me.user_id, (Task.assignee_user_id.is_(None)) & (Task.assignee_role == me.role))
    )
    with ctx.read() as session:
        rows = [
            task_view(t) for t in session.scalars(_filtered(stmt, status).order_by(Task.due_date, Task.id).limit(limit))
        ]
    ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="task_list", detail={"results": len(rows)})
    return rows


@router.get("/patients/{patient_id}/tasks", summary="A patient's tasks")
def of_patient(
    patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.TASK_READ))], status: StatusFilter = "all"
) -> list[dict[str, Any]]:
    with ctx.read() as session:
        stmt = _filtered(select(Task).where(Task.patient_id == patient_id), status)
        rows = [task_view(t) for t in session.scalars(stmt.order_by(Task.due_date, Task.id))]
    ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="task_list", patient_ref=ref(patient_id))
    return rows


def _check_assignee(session: Any, user_id: int | None) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise ApiError(422, f"assignee_user_id: no user {user_id}", "assignee_user_id")


@router.post(
    "/patients/{patient_id}/tasks",
    status_code=201,
    summary="Add a manual task",
    responses=documented(400, 404, 409, 413),
)
def create(
    patient_id: IdPath, body: TaskIn, ctx: Annotated[Ctx, Depends(require(Permission.TASK_WRITE))]
) -> dict[str, Any]:
    with ctx.write() as session:
        writable_patient(session, patient_id)
        _check_assignee(session, body.assignee_user_id)
        task = Task(
            patient_id=patient_id,
            kind=body.kind,
            title=body.title,
            due_date=body.due_date,
            assignee_role=body.assignee_role.value,
            assignee_user_id=body.assignee_user_id,
            note=body.note,
        )
        session.add(task)
        session.flush()
        ctx.log(
            session,
            AuditEventId.PATIENT_RECORD,
            AuditAction.CREATE,
            event_type="task",
            patient_ref=ref(patient_id),
            detail={"task": task.id, "kind": task.kind},
        )
        return task_view(task)


@router.patch(
    "/tasks/{task_id:int}",
    summary="Close a task (done or cancelled), reassign it or add a note",
    responses=documented(400, 404, 409, 413),
)
def patch(
    task_id: IdPath, body: TaskPatch, ctx: Annotated[Ctx, Depends(require(Permission.TASK_WRITE))]
) -> dict[str, Any]:
    with ctx.write() as session:
        task = session.get(Task, task_id)
        if task is None:
            raise ApiError(404, f"task {task_id} not found")
        if task.status in CLOSED_STATUSES:
            raise ApiError(409, f"status: task {task_id} is already {task.status}; closed tasks stay closed", "status")
        _check_assignee(session, body.assignee_user_id)
        for name in ("assignee_user_id", "note"):
            if getattr(body, name) is not None:
                setattr(task, name, getattr(body, name))
        if body.status is not None and task.status == OPEN:
            task.status, task.closed_at, task.closed_by = body.status, utcnow(), ctx.principal.username
        task.updated_at = utcnow()
        ctx.log(
            session,
            AuditEventId.PATIENT_RECORD,
            AuditAction.UPDATE,
            event_type="task",
            patient_ref=ref(task.patient_id),
            detail={"task": task.id, "status": task.status},
        )
        return task_view(task)
