"""Home, sign-in, sign-out and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.users import login
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from sgm_app.api.deps import client_address, get_state
from sgm_app.api.errors import ApiError
from sgm_app.api.routers.auth import throttle_login
from sgm_app.api.state import ApiState
from sgm_app.web.deps import CsrfRejectedError, Web, safe_next, signed_in
from sgm_app.web.i18n import LANG_COOKIE, LANGUAGES
from sgm_app.web.render import gettext_for, render_html
from sgm_app.web.session import (
    SESSION_COOKIE,
    csrf_ok,
    end_session,
    read_session,
    session_lifetime,
    set_csrf_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=256)]


@router.get("/")
def home(web: Annotated[Web, Depends(signed_in())]) -> Response:
    return web.page("home.html")


def _login_page(request: Request, next_url: str, status: int = 200, **values: object) -> Response:
    response = render_html(request, "login.html", status, next_url=safe_next(next_url), **values)
    set_csrf_cookie(request, response, request.app.state.api)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", expired: int = 0) -> Response:
    return _login_page(request, next, expired=bool(expired))


def _audit_login(state: ApiState, request: Request, username: str, role: str, ok: bool, session: object) -> None:
    record_event(
        session,  # type: ignore[arg-type]
        AuditRecord(
            event_id=AuditEventId.USER_AUTHENTICATION,
            action=AuditAction.EXECUTE,
            event_type="web_login",
            outcome=AuditOutcome.SUCCESS if ok else AuditOutcome.MINOR_FAILURE,
            user_id=username[:64],
            user_role=role,
            network_address=client_address(request),
        ),
    )


@router.post("/login")
def sign_in(
    request: Request,
    state: Annotated[ApiState, Depends(get_state)],
    username: Text = "",
    password: Text = "",
    next: Text = "/",
    csrf_token: Text = "",
) -> Response:
    if not csrf_ok(request, csrf_token):
        raise CsrfRejectedError()
    _ = gettext_for(request)
    if not username.strip() or not password:
        errors = {"username": _("Enter your user name.")} if not username.strip() else {}
        if not password:
            errors["password"] = _("Enter your password.")
        return _login_page(request, next, 422, errors=errors, username=username)
    try:
        throttle_login(state, request, username.strip())  # the same back-off as the REST API's sign-in
    except ApiError as refused:
        error = {"password": _("Too many failed sign-ins; wait a moment and try again.")}
        page = _login_page(request, next, 429, errors=error, username=username)
        page.headers.update(refused.headers or {})
        return page
    with state.writer(), session_scope(state.sessions) as session:
        result = login(session, username.strip(), password, session_lifetime(state))
        _audit_login(state, request, username, result[0].role if result else "", result is not None, session)
    if result is None:
        state.login_guard.failed(username.strip(), client_address(request))
        error = {"password": _("Unknown user name or wrong password.")}
        return _login_page(request, next, 401, errors=error, username=username)
    state.login_guard.succeeded(username.strip(), client_address(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, state, result[1])
    return response


@router.post("/logout")
def sign_out(request: Request, state: Annotated[ApiState, Depends(get_state)], csrf_token: Text = "") -> Response:
    if not csrf_ok(request, csrf_token):
        raise CsrfRejectedError()
    info = read_session(request, state)
    if info is not None:
        end_session(state, info.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def switch_language(request: Request, lang: Text = "en", next: Text = "/", csrf_token: Text = "") -> Response:
    if not csrf_ok(request, csrf_token):
        raise CsrfRejectedError()
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
