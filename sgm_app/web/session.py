"""Browser sessions: a signed cookie naming a server-side session (an expiring, revocable token row), and CSRF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import update

from emr_core.clinical.users import Principal, authenticate_token, token_hash
from emr_core.db import session_scope
from emr_core.models_clinical import ApiToken
from sgm_app.api.state import ApiState, TokenCache

SESSION_COOKIE = "sgm_session"
CSRF_COOKIE = "sgm_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


# Sessions verified in the last few seconds: typing in the search box must not query the users table per key.
# Logout forgets the session here at once; a revocation elsewhere takes effect within this many seconds.
SESSION_CACHE_SECONDS = 5.0


_recent = TokenCache(ttl=SESSION_CACHE_SECONDS)  # a logout in another worker takes effect within this time


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    token: str


def _signer(state: ApiState) -> TimestampSigner:
    # A key of its own, derived from the installation secret: cookies cannot be turned into pseudonyms.
    key = hmac.new(state.pseudonym_secret, b"sgm-web-session", hashlib.sha256).digest()
    return TimestampSigner(key, salt="sgm-web-session")


def idle_seconds(state: ApiState) -> int:
    return state.settings.web_session_idle_minutes * 60


def session_lifetime(state: ApiState) -> timedelta:
    return timedelta(hours=state.settings.web_session_max_hours)


def _secure(request: Request, state: ApiState) -> bool:
    return state.settings.web_secure_cookies or request.url.scheme == "https"


def read_session(request: Request, state: ApiState) -> SessionInfo | None:
    """The signed-in user, or None for no cookie, a forged or idle-expired cookie, or a revoked/expired session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        token = _signer(state).unsign(cookie, max_age=idle_seconds(state)).decode("ascii")
    except (BadSignature, SignatureExpired, UnicodeDecodeError):
        return None
    key = token_hash(token)
    principal = _recent.get(key)
    if principal is None:
        with session_scope(state.sessions) as session:
            principal = authenticate_token(session, token)
        if principal is not None:
            _recent.put(key, principal)
    return SessionInfo(principal, token) if principal else None


def set_session_cookie(request: Request, response: Response, state: ApiState, token: str) -> None:
    """(Re)sign the cookie: each page refreshes the idle timer."""
    response.set_cookie(
        SESSION_COOKIE,
        _signer(state).sign(token).decode("ascii"),
        max_age=idle_seconds(state),
        httponly=True,
        samesite="lax",
        secure=_secure(request, state),
        path="/",
    )


def end_session(state: ApiState, token: str) -> None:
    """Revoke the session server-side, so a copied cookie is useless after logout."""
    _recent.forget(token_hash(token))
    with state.writer(), session_scope(state.sessions) as session:
        session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(token)).values(revoked=True))


def csrf_token(request: Request) -> str:
    """The double-submit token: the cookie's value, or a new one the response will set."""
    existing = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not existing or len(existing) < 32:
        existing = secrets.token_urlsafe(32)
    request.state.csrf = existing
    return str(existing)


def set_csrf_cookie(request: Request, response: Response, state: ApiState) -> None:
    token = getattr(request.state, "csrf", None)
    if token and token != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request, state), path="/"
        )


def csrf_ok(request: Request, submitted: str) -> bool:
    """The form (or htmx header) carries the same token as the cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    candidate = submitted or request.headers.get(CSRF_HEADER, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), candidate.encode())
