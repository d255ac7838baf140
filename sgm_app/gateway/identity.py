"""Who is asking: Label Studio's own answer to its session cookie or token, cached briefly."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

import httpx

SESSION_COOKIE = "sessionid"  # Django's session cookie, as Label Studio names it
TTL_S = 10.0  # a logout or a changed assignment is seen within this delay


def credential_of(cookie_header: str, authorization: str) -> str:
    """The part of a request that identifies its user (empty for an anonymous request)."""
    if authorization.strip():
        return "auth:" + authorization.strip()
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header or "")
    except CookieError:
        return ""
    morsel = cookies.get(SESSION_COOKIE)
    return "session:" + morsel.value if morsel and morsel.value else ""


@dataclass
class Identities:
    """Maps a session or token to the Label Studio user's email through `/api/current-user/whoami`."""

    ls_url: str
    http: httpx.Client
    _cache: dict[str, tuple[float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def email(self, credential: str) -> str:
        """The user's lower-case email; empty when Label Studio does not know the credential."""
        if not credential:
            return ""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(credential)
        if hit and now - hit[0] < TTL_S:
            return hit[1]
        kind, _, value = credential.partition(":")
        headers = {"Authorization": value} if kind == "auth" else {"Cookie": f"{SESSION_COOKIE}={value}"}
        response = self.http.get(f"{self.ls_url}/api/current-user/whoami", headers=headers, timeout=15)
        email = str(response.json().get("email", "")).strip().lower() if response.status_code == 200 else ""
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[credential] = (now, email)
        return email
