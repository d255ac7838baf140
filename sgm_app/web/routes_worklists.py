"""Worklists: my tasks and overdue follow-ups (close, reassign, reschedule) and the linking review queue."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from emr_core.clinical.followup import OPEN
from emr_core.clinical.roles import Permission, allowed
from emr_core.enums import AuditAction, AuditEventId
from emr_core.linking.review import decide, review_queue
from emr_core.models import Patient, utcnow
from emr_core.models_clinical import Task, User
from sgm_app.api.routers.patients import ref
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.render import gettext_for

router = APIRouter(include_in_schema=False)
TaskReader = Annotated[Web, Depends(signed_in(Permission.TASK_READ))]
TaskWriter = Annotated[Web, Depends(signed_in(Permission.TASK_WRITE))]
Steward = Annotated[Web, Depends(signed_in(Permission.PATIENT_MERGE))]
Text = Annotated[str, Form(max_length=200)]
ACTIONS = ("done", "cancelled", "reassign", "reschedule")


def _my_tasks(web: Web, overdue_only: bool) -> list[tuple[Task, Patient]]:
    me = web.ctx.principal
    stmt = (
        select(Task, Patient)
        .join(Patient, Patient.id == Task.patient_id)
        .where(Task.status == OPEN)
        .where(
            or_(Task.assignee_user_id == me.user_id, Task.assignee_user_id.is_(None) & (Task.assignee_role == me.role))
        )
    )
    if overdue_only:
        stmt = stmt.where(Task.due_date < utcnow().date())
    with web.ctx.read() as session:
        rows = [(t, p) for t, p in session.execute(stmt.order_by(Task.due_date, Task.id).limit(500))]
        session.expunge_all()
    return rows


def _assignees(web: Web) -> list[User]:
    with web.ctx.read() as session:
        users = [u for u in session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))]
        session.expunge_all()
    return [u for u in users if allowed(u.role, Permission.TASK_WRITE)]


def _task_page(web: Web, overdue: bool, status: int = 200, **values: Any) -> Response:
    rows = _my_tasks(web, overdue)
    web.ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="task_list", detail={"results": len(rows)})
    values.setdefault("errors", {})
    return web.page(
        "tasks.html", status, rows=rows, overdue=overdue, today=utcnow().date(), assignees=_assignees(web), **values
    )


@router.get("/ui/tasks")
def tasks(web: TaskReader, overdue: int = 0, done: str = "") -> Response:
    return _task_page(web, bool(overdue), done=done)


def _change(web: Web, session: Session, task: Task, action: str, assignee: str, due: str) -> str | None:
    """Apply the action to the open task; returns an error message for the field, or None."""
    _ = gettext_for(web.request)
    if action in ("done", "cancelled"):
        task.status, task.closed_at, task.closed_by = action, utcnow(), web.ctx.principal.username
    elif action == "reassign":
        target = session.get(User, int(assignee)) if assignee.isdigit() else None
        if target is None or not target.active or not allowed(target.role, Permission.TASK_WRITE):
            return _("Choose who takes the task.")
        task.assignee_user_id = target.id
    else:
        try:
            when = date.fromisoformat(due)
        except ValueError:
            return _("Enter a date as YYYY-MM-DD.")
        if when < utcnow().date():
            return _("The new date must not be in the past.")
        task.note = (task.note + "\n" if task.note else "") + f"rescheduled from {task.due_date} to {when}"
        task.due_date = when
    task.updated_at = utcnow()
    return None


@router.post("/ui/tasks/{task_id}")
def update_task(
    web: TaskWriter,
    task_id: int,
    action: Text = "",
    assignee_user_id: Text = "",
    due_date: Text = "",
    overdue: Text = "",
    csrf_token: Text = "",
) -> Response:
    web.check_csrf(csrf_token)
    _ = gettext_for(web.request)
    error: str | None = None
    with web.ctx.write() as session:
        task = session.get(Task, task_id)
        if task is None or task.status != OPEN or action not in ACTIONS:
            error = _("This task is already closed or no longer exists.")
        else:
            error = _change(web, session, task, action, assignee_user_id, due_date)
        if error is None and task is not None:
            web.ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.UPDATE,
                event_type="task",
                patient_ref=ref(task.patient_id),
                detail={"task": task.id, "action": action, "status": task.status, "via": "web"},
            )
        elif error is not None:
            session.rollback()  # nothing half-changed
    if error is not None:
        field = "due_date" if action == "reschedule" else "assignee_user_id" if action == "reassign" else "action"
        return _task_page(web, overdue == "1", 422, errors={f"{task_id}.{field}": error})
    return web.redirect(f"/ui/tasks?done={action}" + ("&overdue=1" if overdue == "1" else ""))


def _candidate_names(web: Web, items: list[Any]) -> dict[int, Patient]:
    ids = {int(c["patient_id"]) for item in items for c in item.candidates if c.get("patient_id")}
    with web.ctx.read() as session:
        found = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}
        session.expunge_all()
    return found


@router.get("/ui/review")
def review(web: Steward, decided: str = "") -> Response:
    with web.ctx.read() as session:
        items = review_queue(session, limit=50)
    patients = _candidate_names(web, items)
    web.ctx.audit(AuditEventId.QUERY, AuditAction.READ, event_type="link_review_queue", detail={"items": len(items)})
    return web.page("review.html", items=items, patients=patients, decided=decided)


@router.post("/ui/review/decide")
def review_decide(web: Steward, study_uid: Text = "", patient_id: Text = "", csrf_token: Text = "") -> Response:
    web.check_csrf(csrf_token)
    target = int(patient_id) if patient_id.isdigit() else None
    try:
        with web.ctx.write() as session:
            decision = decide(session, study_uid, target, web.ctx.principal.username)
            web.ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.UPDATE,
                event_type="link_decision",
                patient_ref=ref(decision.patient_id) if decision.patient_id else "",
                study_uid=study_uid,
                detail={"decision": decision.id, "new_patient": target is None},
            )
    except LookupError:
        return web.redirect("/ui/review?decided=missing")
    return web.redirect("/ui/review?decided=1")
