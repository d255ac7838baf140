"""Administration: users and roles, the audit log (filters, chain verification), activity reports, research data."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response
from sqlalchemy import select

from emr_core.audit_sink import session_sink
from emr_core.audit_verify import verify_audit_log
from emr_core.clinical.audit_export import day_range
from emr_core.clinical.reports import Table, operations_report
from emr_core.clinical.roles import Permission, Role
from emr_core.clinical.users import create_user, hash_password
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import AuditEvent, utcnow
from emr_core.models_clinical import User
from sgm_app.api.routers.research import exams as research_exams
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.render import gettext_for, translate

router = APIRouter(include_in_schema=False)
Admin = Annotated[Web, Depends(signed_in(Permission.USER_ADMIN))]
Auditor = Annotated[Web, Depends(signed_in(Permission.AUDIT_READ))]
Reporter = Annotated[Web, Depends(signed_in(Permission.OPERATIONS_REPORT))]
Researcher = Annotated[Web, Depends(signed_in(Permission.RESEARCH_READ))]
Text = Annotated[str, Form(max_length=256)]
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
PAGE = 200


def _users(web: Web) -> list[User]:
    with web.ctx.read() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        session.expunge_all()
    return users


def _users_page(web: Web, status: int = 200, **values: Any) -> Response:
    values.setdefault("errors", {})
    values.setdefault("form", {})
    return web.page("admin/users.html", status, users=_users(web), roles=[r.value for r in Role], **values)


@router.get("/ui/admin/users")
def users(web: Admin, saved: str = "") -> Response:
    return _users_page(web, saved=saved)


def _check_new_user(web: Web, username: str, role: str, password: str) -> dict[str, str]:
    _ = gettext_for(web.request)
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = _("Use 1 to 64 letters, digits or . _ @ -")
    if role not in {r.value for r in Role}:
        errors["role"] = _("Choose one of the listed values.")
    if len(password) < 10:
        errors["password"] = _("Use at least 10 characters.")
    return errors


@router.post("/ui/admin/users")
def add_user(web: Admin, username: Text = "", role: Text = "", password: Text = "", csrf_token: Text = "") -> Response:
    web.check_csrf(csrf_token)
    form = {"username": username, "role": role}
    errors = _check_new_user(web, username.strip(), role, password)
    if not errors:
        try:
            with web.ctx.write() as session:
                create_user(session, username.strip(), role, password)
                web.ctx.log(
                    session,
                    AuditEventId.SECURITY_ALERT,
                    AuditAction.CREATE,
                    event_type="user_created",
                    detail={"username": username.strip(), "role": role, "via": "web"},
                )
            return web.redirect("/ui/admin/users?saved=1")
        except ValueError:
            errors["username"] = translate(web.request, "This user name is taken.")
    return _users_page(web, 422, errors=errors, form=form)


@router.post("/ui/admin/users/{user_id}")
def change_user(
    web: Admin, user_id: int, role: Text = "", active: Text = "", password: Text = "", csrf_token: Text = ""
) -> Response:
    web.check_csrf(csrf_token)
    if role not in {r.value for r in Role} or (password and len(password) < 10):
        return _users_page(web, 422, errors={f"{user_id}": translate(web.request, "Check the role and password.")})
    with web.ctx.write() as session:
        user = session.get(User, user_id)
        if user is None:
            return web.page("not_found.html", 404)
        before = {"role": user.role, "active": user.active}
        user.role, user.active = role, active == "1"
        if password:
            user.password_hash = hash_password(password)
        web.ctx.log(
            session,
            AuditEventId.SECURITY_ALERT,
            AuditAction.UPDATE,
            event_type="user_changed",
            detail={
                "username": user.username,
                "before": before,
                "role": role,
                "active": user.active,
                "password_changed": bool(password),
            },
        )
    return web.redirect("/ui/admin/users?saved=1")


def _parse_day(text: str, fallback: date) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return fallback


def _audit_query(user: str, patient: str, event_type: str, start: date, end: date) -> Any:
    lower, upper = day_range(start, end)
    stmt = select(AuditEvent).where(AuditEvent.occurred_at >= lower, AuditEvent.occurred_at < upper)
    if user:
        stmt = stmt.where(AuditEvent.user_id == user)
    if patient:
        stmt = stmt.where(AuditEvent.patient_ref == (patient if ":" in patient else f"emr:{patient}"))
    if event_type:
        stmt = stmt.where(AuditEvent.event_type == event_type)
    return stmt.order_by(AuditEvent.id.desc()).limit(PAGE)


@router.get("/ui/admin/audit")
def audit_log(
    web: Auditor,
    user: Annotated[str, Query(max_length=128)] = "",
    patient: Annotated[str, Query(max_length=64)] = "",
    event_type: Annotated[str, Query(max_length=64)] = "",
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    today = utcnow().date()
    first, last = _parse_day(start, today - timedelta(days=7)), _parse_day(end, today)
    filters = {"user": user, "patient": patient, "event_type": event_type, "from": str(first), "to": str(last)}
    with web.ctx.read() as session:
        events = list(session.scalars(_audit_query(user.strip(), patient.strip(), event_type, first, last)))
        types = sorted(session.scalars(select(AuditEvent.event_type).distinct()))
        session.expunge_all()
    web.ctx.audit(AuditEventId.AUDIT_LOG_USED, AuditAction.READ, event_type="audit_view", detail=filters)
    return web.page("admin/audit.html", events=events, types=types, filters=filters, limit=PAGE, verdict=None)


@router.post("/ui/admin/audit/verify")
def verify(web: Auditor, csrf_token: Text = "") -> Response:
    web.check_csrf(csrf_token)
    with web.ctx.read() as session:
        sink = session_sink(session)
        report = verify_audit_log(session, sink.key, sink.checkpoints)
    problems = [(report.summary(), line) for line in report.problems]
    web.ctx.audit(
        AuditEventId.AUDIT_LOG_USED, AuditAction.EXECUTE, event_type="audit_verify", detail={"problems": len(problems)}
    )
    filters = {"user": "", "patient": "", "event_type": "", "from": "", "to": ""}
    return web.page("admin/audit.html", events=[], types=[], filters=filters, limit=PAGE, verdict=problems)


def _chart(table: Table) -> dict[str, Any] | None:
    """A bar chart of the table's numbers per day (or per kind), when it has some."""
    columns = list(table.columns)
    if not table.rows:
        return None
    key = 0
    numeric = [i for i, c in enumerate(columns) if c in ("events", "instances", "exams", "count", "open", "overdue")]
    if not numeric:
        return None
    sums: dict[str, Counter[str]] = {columns[i]: Counter() for i in numeric}
    for row in table.rows:
        for i in numeric:
            sums[columns[i]][str(row[key])] += int(str(row[i] or 0))
    labels = sorted({str(r[key]) for r in table.rows})
    return {"labels": labels, "series": [{"label": n, "data": [c[x] for x in labels]} for n, c in sums.items()]}


@router.get("/ui/reports")
def reports(
    web: Reporter,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    today = utcnow().date()
    first, last = _parse_day(start, today - timedelta(days=30)), _parse_day(end, today)
    with web.ctx.read() as session:
        tables = operations_report(session, first, last, today)
    web.ctx.audit(
        AuditEventId.EXPORT,
        AuditAction.EXECUTE,
        event_type="operations_report",
        detail={"from": str(first), "to": str(last), "via": "web"},
    )
    sections = [{"table": t, "chart": _chart(t)} for t in tables]
    return web.page("reports.html", sections=sections, start=first, end=last)


@router.get("/ui/research")
def research(web: Researcher, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    data = research_exams(web.ctx, offset=offset, limit=200)
    # Bars named as readers say them; an exam without a report is "not reported", not a dash.
    unreported = translate(web.request, "not reported")
    counts = Counter(f"BI-RADS {e['assessment']}" if e["assessment"] else unreported for e in data["exams"])
    chart = {"labels": sorted(counts), "series": [{"label": "exams", "data": [counts[k] for k in sorted(counts)]}]}
    return web.page("research.html", exams=data["exams"], offset=offset, chart=chart)
