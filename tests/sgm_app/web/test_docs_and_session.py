"""Offline /docs and /redoc, sign-in and sign-out, CSRF, session expiry and role-aware navigation, in a browser."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from emr_core.clinical.pseudonyms import installation_secret
from emr_core.clinical.roles import Role
from tests.sgm_app.web.webenv import WebServer, password_of, sign_in


def _offline(page: Any, server: WebServer) -> list[str]:
    """Abort any request leaving this server; return what was attempted."""
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(server.url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return outside


def test_swagger_and_redoc_render_without_internet(page: Any, web_server: WebServer) -> None:
    outside = _offline(page, web_server)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 10
    page.goto("/redoc")
    page.wait_for_selector("[role=search], .menu-content", timeout=30_000)
    assert page.get_by_text("SGM mammography EMR").first.is_visible()
    assert outside == [], f"documentation reached outside the server: {outside}"


def test_root_redirects_to_login_and_back_to_the_wanted_page(page: Any, web_server: WebServer) -> None:
    page.goto("/ui/patients?q=nguyen")
    assert "/login" in page.url
    page.get_by_label("User name").fill("clinician")
    page.get_by_label("Password").fill(password_of("clinician"))
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/ui/patients?q=nguyen")


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_logs_in_and_sees_its_own_navigation(page: Any, web_server: WebServer, role: str) -> None:
    sign_in(page, role)
    assert page.url == web_server.url + "/"
    nav = page.get_by_role("navigation", name="Main")
    links = set(nav.get_by_role("link").all_inner_texts())
    expected = {
        "clinician": {"Patients", "My tasks"},
        "radiologist": {"Patients", "My tasks"},
        "admin": {"Patients", "Users", "Audit log", "Reports", "Linking review"},
        "data_engineer": {"Reports", "Research data"},
        "data_steward": {"Patients", "Linking review"},
        "researcher": {"Research data"},
    }[role]
    assert expected <= links
    if role in ("data_engineer", "researcher"):
        assert "Patients" not in links  # no identified data for them
    if role != "admin":
        assert "Audit log" not in links


def test_wrong_password_shows_the_error_beside_the_field_and_keeps_the_name(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill("clinician")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("#password-error").inner_text() == "Unknown user name or wrong password."
    assert page.get_by_label("User name").input_value() == "clinician"
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"


def test_session_cookie_flags_and_logout_revokes_the_session(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["sgm_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert cookies["sgm_csrf"]["httpOnly"]
    page.get_by_role("button", name="Sign out").click()
    assert "/login" in page.url
    # The old cookie, replayed, no longer opens a page: the session was revoked server-side.
    reply = httpx.get(web_server.url + "/ui/patients", cookies={"sgm_session": session["value"]})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")


def test_a_form_without_the_csrf_token_is_refused(web_server: WebServer) -> None:
    with httpx.Client(base_url=web_server.url) as client:
        client.get("/login")  # sets the CSRF cookie
        reply = client.post("/login", data={"username": "clinician", "password": password_of("clinician")})
        assert reply.status_code == 403 and "Form expired" in reply.text
        assert "sgm_session" not in client.cookies


def test_an_idle_session_expires_and_login_returns_to_the_wanted_page(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician")
    session = next(c for c in page.context.cookies() if c["name"] == "sgm_session")
    page.context.add_cookies([{**session, "value": _aged(web_server, session["value"], minutes=31)}])
    page.goto("/ui/patients?q=nguyen")
    assert "/login" in page.url and "expired=1" in page.url
    assert page.get_by_role("status").inner_text().startswith("Your session has ended")
    page.get_by_label("User name").fill("clinician")
    page.get_by_label("Password").fill(password_of("clinician"))
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/ui/patients?q=nguyen")


def _aged(server: WebServer, cookie: str, minutes: int) -> str:
    """The same session, signed as if the last page was `minutes` ago (the idle limit is 30)."""
    key = hmac.new(installation_secret(server.settings.root), b"sgm-web-session", hashlib.sha256).digest()
    token = TimestampSigner(key, salt="sgm-web-session").unsign(cookie)

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - minutes * 60

    return Earlier(key, salt="sgm-web-session").sign(token).decode("ascii")


def test_a_forbidden_page_says_so_and_is_audited(page: Any, web_server: WebServer) -> None:
    from sqlalchemy import select

    from emr_core.db import session_scope
    from emr_core.models import AuditEvent

    sign_in(page, "researcher")
    response = page.goto("/ui/patients")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    with session_scope(web_server.sessions) as session:
        denied = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "permission_denied", AuditEvent.user_id == "researcher")
        ).all()
    assert denied, "the refused page was not audited"


def test_pages_are_not_framed_cached_or_sniffed(web_server: WebServer) -> None:
    reply = httpx.get(web_server.url + "/login")
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"
