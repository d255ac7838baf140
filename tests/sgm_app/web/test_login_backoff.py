"""The web sign-in backs off after failed passwords exactly like the REST API's: one count per account."""

from __future__ import annotations

import re

import httpx

from emr_core.clinical.users import create_user
from emr_core.db import session_scope
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _try(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = client.get("/login")
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    return client.post(
        "/login", data={"username": username, "password": password, "next": "/", "csrf_token": token.group(1)}
    )


@BOTH_BACKENDS
def test_repeated_wrong_passwords_are_throttled_and_the_api_shares_the_count(web_server: WebServer) -> None:
    with session_scope(web_server.sessions) as session:
        create_user(session, "backoff.web", "clinician", "right-password-1")
    with httpx.Client(base_url=web_server.url, follow_redirects=False, timeout=30) as client:
        statuses = [_try(client, "backoff.web", "wrong-password").status_code for _ in range(6)]
        assert statuses[:5] == [401] * 5 and statuses[5] == 429
        refused = _try(client, "backoff.web", "right-password-1")
        assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        # The REST API reads the same count from the audit log: no fresh tries there either.
        api = client.post("/auth/login", data={"username": "backoff.web", "password": "right-password-1"})
        assert api.status_code == 429
