"""Administration: users and tokens, the audit log (verify, export) and operational reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from emr_core.audit_sink import session_sink
from emr_core.audit_verify import verify_audit_log
from emr_core.clinical.audit_export import audit_rows, to_csv, to_json
from emr_core.clinical.reports import operations_report, render_csv, render_html
from emr_core.clinical.roles import Permission, Role
from emr_core.clinical.users import create_user, issue_token
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import utcnow
from emr_core.models_clinical import User
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented, field_error
from sgm_app.api.inputs import IsoDate

router = APIRouter(tags=["administration"], responses=documented(401, 403, 422))
From = Annotated[IsoDate, Query(alias="from")]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=256)


@router.post(
    "/users",
    status_code=201,
    summary="Add a user; the response carries their first token (shown once)",
    responses=documented(400, 409, 413),
)
def add_user(body: UserIn, ctx: Annotated[Ctx, Depends(require(Permission.USER_ADMIN))]) -> dict[str, Any]:
    try:
        with ctx.write() as session:
            user = create_user(session, body.username, body.role.value, body.password)
            token = issue_token(session, user)
            ctx.log(
                session,
                AuditEventId.SECURITY_ALERT,
                AuditAction.CREATE,
                event_type="user_created",
                detail={"username": user.username, "role": user.role},
            )
            return {"id": user.id, "username": user.username, "role": user.role, "token": token}
    except ValueError as exc:
        raise field_error(exc, 409 if "already exists" in str(exc) else 422) from None


@router.get("/users", summary="All users and their roles")
def users(ctx: Annotated[Ctx, Depends(require(Permission.USER_ADMIN))]) -> list[dict[str, Any]]:
    with ctx.read() as session:
        return [
            {"id": u.id, "username": u.username, "role": u.role, "active": u.active}
            for u in session.scalars(select(User).order_by(User.id))
        ]


@router.get(
    "/audit/verify", summary="Check the keyed audit chain and its signed checkpoints; lists what was tampered with"
)
def verify(ctx: Annotated[Ctx, Depends(require(Permission.AUDIT_READ))]) -> dict[str, Any]:
    with ctx.read() as session:
        sink = session_sink(session)
        report = verify_audit_log(session, sink.key, sink.checkpoints)
    problems = [{"problem": line} for line in report.problems]
    ctx.audit(
        AuditEventId.AUDIT_LOG_USED, AuditAction.EXECUTE, event_type="audit_verify", detail={"problems": len(problems)}
    )
    return {"intact": report.intact, "summary": report.summary(), "problems": problems, "notes": report.notes}


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ApiError(422, "to: must not be before from", "to")


@router.get(
    "/audit",
    summary="Audit events for a date range (UTC days, inclusive) as JSON or CSV",
    responses={200: {"description": "The events", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export(
    ctx: Annotated[Ctx, Depends(require(Permission.AUDIT_READ))],
    start: From,
    to: IsoDate,
    format: Literal["json", "csv"] = "json",
) -> Response:
    _check_range(start, to)
    with ctx.read() as session:
        rows = audit_rows(session, start, to)
        body = to_json(rows) if format == "json" else to_csv(rows)
    ctx.audit(
        AuditEventId.AUDIT_LOG_USED,
        AuditAction.READ,
        event_type="audit_export",
        detail={"from": str(start), "to": str(to), "format": format},
    )
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return Response(body, media_type=media)


@router.get(
    "/reports/operations",
    summary="Activity per user and day, ingest volume, reading throughput, tasks",
    response_class=HTMLResponse,
    responses={200: {"description": "The report", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def operations(
    ctx: Annotated[Ctx, Depends(require(Permission.OPERATIONS_REPORT))],
    start: From,
    to: IsoDate,
    format: Literal["html", "csv"] = "html",
) -> Response:
    _check_range(start, to)
    with ctx.read() as session:
        tables = operations_report(session, start, to, utcnow().date())
    ctx.audit(
        AuditEventId.EXPORT,
        AuditAction.EXECUTE,
        event_type="operations_report",
        detail={"from": str(start), "to": str(to), "format": format},
    )
    if format == "csv":
        return PlainTextResponse(render_csv(tables), media_type="text/csv; charset=utf-8")
    return HTMLResponse(render_html(tables, start, to))
