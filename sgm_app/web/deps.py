"""Who is on the page: the session's user and role check, audited like the API's, with HTML outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from emr_core.audit import AuditRecord
from emr_core.clinical.roles import Permission, allowed
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from sgm_app.api.deps import Ctx, _append, client_address, get_state
from sgm_app.api.state import ApiState
from sgm_app.web.nav import navigation
from sgm_app.web.render import render_html
from sgm_app.web.session import SessionInfo, csrf_ok, read_session, set_csrf_cookie, set_session_cookie


class LoginRequiredError(Exception):
    """No valid session: back to the login page, then to `next_url`."""

    def __init__(self, next_url: str, expired: bool) -> None:
        super().__init__(next_url)
        self.next_url, self.expired = next_url, expired


class ForbiddenError(Exception):
    """The role may not use this page (already audited)."""


class CsrfRejectedError(Exception):
    """A form came without the page's CSRF token."""


def safe_next(url: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


def login_redirect(next_url: str, expired: bool = False) -> RedirectResponse:
    query = f"?next={quote(next_url, safe='')}" + ("&expired=1" if expired else "")
    return RedirectResponse(f"/login{query}", status_code=303)


@dataclass(frozen=True)
class Web:
    """One signed-in page request: the API's Ctx (read, write, audit) plus rendering."""

    request: Request
    ctx: Ctx
    session: SessionInfo

    @property
    def role(self) -> str:
        return self.ctx.principal.role

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def finish(self, response: Response) -> Response:
        set_session_cookie(self.request, response, self.ctx.state, self.session.token)
        set_csrf_cookie(self.request, response, self.ctx.state)
        return response

    def page(self, page_template: str, status: int = 200, **values: Any) -> Response:
        user = self.ctx.principal
        html = render_html(
            self.request, page_template, status, user=user, nav=navigation(user.role), web=self, **values
        )
        return self.finish(html)

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def check_csrf(self, submitted: str) -> None:
        if not csrf_ok(self.request, submitted):
            raise CsrfRejectedError()


def _next_url(request: Request) -> str:
    if request.method != "GET":
        return request.headers.get("referer", "/").split(request.url.netloc, 1)[-1] or "/"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def signed_in(permission: Permission | None = None) -> Callable[..., Web]:
    """A dependency: the signed-in user, holding `permission` when one is named."""

    def dependency(request: Request, state: Annotated[ApiState, Depends(get_state)]) -> Web:
        info = read_session(request, state)
        if info is None:
            raise LoginRequiredError(safe_next(_next_url(request)), expired=bool(request.cookies.get("sgm_session")))
        web = Web(request, Ctx(state, info.principal, client_address(request)), info)
        if permission is not None and not web.may(permission):
            _append(state, _denied(web, permission))
            raise ForbiddenError(permission.value)
        return web

    return dependency


def _denied(web: Web, permission: Permission) -> AuditRecord:
    return web.ctx.record(
        AuditEventId.SECURITY_ALERT,
        AuditAction.EXECUTE,
        event_type="permission_denied",
        outcome=AuditOutcome.MINOR_FAILURE,
        detail={"permission": permission.value, "method": web.request.method, "path": web.request.url.path},
    )


def forbidden_page(request: Request) -> HTMLResponse:
    return render_html(request, "forbidden.html", 403)
