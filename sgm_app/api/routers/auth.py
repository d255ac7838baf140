"""Login (password -> bearer token, also set as a cookie for the viewer) and who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.users import TOKEN_LIFETIME, Principal, issue_token, verify_login
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models_clinical import User
from sgm_app.api.deps import TOKEN_COOKIE, client_address, current_principal, get_state
from sgm_app.api.errors import ApiError, documented
from sgm_app.api.login_guard import recorded_failures
from sgm_app.api.state import ApiState

router = APIRouter(tags=["authentication"])

LOGIN_PAGE = """<!doctype html><html><head><meta charset='utf-8'><title>Sign in</title></head>
<body style='font-family:sans-serif;margin:3em'><h1>Sign in</h1>
<form method='post' action='/auth/login'><p><label>User <input name='username' autofocus></label></p>
<p><label>Password <input name='password' type='password'></label></p><button>Sign in</button></form></body></html>"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page() -> HTMLResponse:
    return HTMLResponse(LOGIN_PAGE)


def _login_record(request: Request, username: str, role: str, outcome: int, **fields: Any) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.USER_AUTHENTICATION,
        action=AuditAction.EXECUTE,
        event_type=fields.pop("event_type", "login"),
        outcome=outcome,
        user_id=username,
        user_role=role,
        network_address=client_address(request),
        **fields,
    )


def _audit_login(state: ApiState, record: AuditRecord) -> None:
    with state.writer(), session_scope(state.sessions) as session:
        record_event(session, record)


def throttle_login(state: ApiState, request: Request, username: str) -> None:
    """429 with Retry-After while this account or this address is backing off after failed logins."""
    with session_scope(state.sessions) as session:
        failures, last = recorded_failures(session, username)
    # The audit log covers every worker process; the in-process guard also counts tries still in flight
    # and guesses spread over many accounts from one address.
    wait = state.login_guard.recorded_wait(failures, last) or state.login_guard.admit(username, client_address(request))
    if wait:
        throttled = _login_record(
            request, username, "", AuditOutcome.MINOR_FAILURE, event_type="login_throttled", detail={"wait": wait}
        )
        _audit_login(state, throttled)
        raise ApiError(429, f"too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)})


@router.post(
    "/auth/login",
    summary="Exchange a user name and password for a bearer token",
    responses=documented(400, 401, 413, 422, 429),
)
def sign_in(
    request: Request,
    response: Response,
    state: Annotated[ApiState, Depends(get_state)],
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> dict[str, Any]:
    throttle_login(state, request, username)
    # The password check (scrypt, ~50 ms) runs on a read session: no other request waits on it.
    with session_scope(state.sessions) as session:
        user = verify_login(session, username, password)
        user_id, role = (user.id, user.role) if user is not None else (None, "")
    if user_id is None:
        state.login_guard.failed(username, client_address(request))
        _audit_login(state, _login_record(request, username, role, AuditOutcome.MINOR_FAILURE))
        raise ApiError(401, "unknown user or wrong password")
    state.login_guard.succeeded(username, client_address(request))
    with state.writer(), session_scope(state.sessions) as session:
        token = issue_token(session, session.get(User, user_id))  # type: ignore[arg-type]
        record_event(session, _login_record(request, username, role, AuditOutcome.SUCCESS))
    response.set_cookie(
        TOKEN_COOKIE, token, max_age=int(TOKEN_LIFETIME.total_seconds()), httponly=True, samesite="strict"
    )
    return {"token": token, "token_type": "bearer", "username": username, "role": role}


@router.get("/auth/me", summary="The caller's user name and role", responses=documented(401))
def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    return {"id": principal.user_id, "username": principal.username, "role": principal.role}
