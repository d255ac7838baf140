"""Login (password -> bearer token, also set as a cookie for the viewer) and who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.users import TOKEN_LIFETIME, Principal, login
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from sgm_app.api.deps import TOKEN_COOKIE, client_address, current_principal, get_state
from sgm_app.api.errors import ApiError
from sgm_app.api.state import ApiState

router = APIRouter(tags=["authentication"])

LOGIN_PAGE = """<!doctype html><html><head><meta charset='utf-8'><title>Sign in</title></head>
<body style='font-family:sans-serif;margin:3em'><h1>Sign in</h1>
<form method='post' action='/auth/login'><p><label>User <input name='username' autofocus></label></p>
<p><label>Password <input name='password' type='password'></label></p><button>Sign in</button></form></body></html>"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page() -> HTMLResponse:
    return HTMLResponse(LOGIN_PAGE)


@router.post("/auth/login", summary="Exchange a user name and password for a bearer token")
def sign_in(
    request: Request,
    response: Response,
    state: Annotated[ApiState, Depends(get_state)],
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> dict[str, Any]:
    with state.writer(), session_scope(state.sessions) as session:
        result = login(session, username, password)
        role = result[0].role if result else ""
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.USER_AUTHENTICATION,
                action=AuditAction.EXECUTE,
                event_type="login",
                outcome=AuditOutcome.SUCCESS if result else AuditOutcome.MINOR_FAILURE,
                user_id=username,
                user_role=role,
                network_address=client_address(request),
            ),
        )
    if result is None:
        raise ApiError(401, "unknown user or wrong password")
    token = result[1]
    response.set_cookie(
        TOKEN_COOKIE, token, max_age=int(TOKEN_LIFETIME.total_seconds()), httponly=True, samesite="strict"
    )
    return {"token": token, "token_type": "bearer", "username": username, "role": role}


@router.get("/auth/me", summary="The caller's user name and role")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    return {"id": principal.user_id, "username": principal.username, "role": principal.role}
