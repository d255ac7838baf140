"""Request dependencies: the caller's identity, the role check, sessions and audit records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import update
from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.roles import Permission, allowed
from emr_core.clinical.users import Principal, authenticate_token, token_hash
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditChainHead
from sgm_app.api.errors import ApiError
from sgm_app.api.state import ApiState

TOKEN_COOKIE = "sgm_token"
# Declares the scheme in the OpenAPI document; `authenticate` reads the header itself (and the cookie on GET).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token from `sgm users add`, POST /users or POST /auth/login",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


async def get_state(request: Request) -> ApiState:
    # async: a trivial dependency need not hop to the thread pool.
    state: ApiState = request.app.state.api
    return state


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _lock_for_write(session: Session) -> None:
    # Every write is audited, so it will lock the audit chain head anyway; on SQLite, taking that lock
    # first makes it start a write transaction instead of failing to upgrade a read snapshot. MariaDB
    # locks rows: there the head is locked only when the event is recorded, at the end of the write,
    # so concurrent writes (and the reads' audit group commits) wait for a commit, not a whole request.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))


@dataclass(frozen=True)
class Ctx:
    """One authorised request: who, from where, with which state."""

    state: ApiState
    principal: Principal
    address: str

    def record(self, event_id: AuditEventId, action: AuditAction, **fields: Any) -> AuditRecord:
        return AuditRecord(
            event_id=event_id,
            action=action,
            user_id=self.principal.username,
            user_role=self.principal.role,
            network_address=self.address,
            **fields,
        )

    def log(self, session: Session, event_id: AuditEventId, action: AuditAction, **fields: Any) -> None:
        """Record an event inside the caller's (write) transaction: it commits or rolls back with it."""
        record_event(session, self.record(event_id, action, **fields))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction; call `audit` after it ends."""
        with session_scope(self.state.sessions) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction holding the audit lock; record its audit event inside it."""
        with self.state.writer(), session_scope(self.state.sessions) as session:
            _lock_for_write(session)
            yield session

    def audit(self, event_id: AuditEventId, action: AuditAction, **fields: Any) -> None:
        """Record an event after the data was read; returns once it is committed (group commit)."""
        self.state.audit_writer.append(self.record(event_id, action, **fields))

    async def audit_from_loop(self, event_id: AuditEventId, action: AuditAction, **fields: Any) -> None:
        """`audit` for an async endpoint: the wait for the commit holds no handler thread."""
        await self.state.audit_writer.append_from_loop(self.record(event_id, action, **fields))


def _append(state: ApiState, record: AuditRecord) -> None:
    with state.writer(), session_scope(state.sessions) as session:
        record_event(session, record)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token and request.method == "GET":
        # The viewer's <img> tags cannot send headers; the login cookie serves safe reads only.
        return request.cookies.get(TOKEN_COOKIE, "")
    return token.strip() if scheme.lower() == "bearer" else ""


def _cached(state: ApiState, token: str) -> tuple[str, Principal | None]:
    """The token's cache key and the principal it was recently verified for, if any."""
    key = token_hash(token) if token else ""
    return key, state.tokens.get(key) if token else None


def authenticate(request: Request, state: ApiState) -> Principal:
    """The user behind the bearer token; 401 (audited) when it is missing or invalid."""
    token = _bearer(request)
    key, principal = _cached(state, token)
    if token and principal is None:
        with session_scope(state.sessions) as session:
            principal = authenticate_token(session, token)
        if principal is not None:
            state.tokens.put(key, principal)
    if principal is None:
        # Coalesced: anonymous traffic writes one row per address per window, then its count.
        reason = "missing token" if not token else "invalid token"
        first = state.denials.note(client_address(request), reason, request.url.path)
        if first is not None:
            state.audit_writer.append(first)
        raise ApiError(401, "missing or invalid bearer token (Authorization: Bearer TOKEN)")
    return principal


async def authenticated(request: Request, state: ApiState) -> Principal:
    """`authenticate` from the event loop: a recently verified token costs no thread and no query."""
    # A hop to the thread pool costs more than the whole check of a cached token, and every request
    # makes this check: only a token not seen lately (a query, maybe an audited 401) goes to a thread.
    _, principal = _cached(state, _bearer(request))
    return principal if principal is not None else await to_thread.run_sync(authenticate, request, state)


async def current_principal(
    request: Request, state: Annotated[ApiState, Depends(get_state)], _: Credentials = None
) -> Principal:
    """Dependency form of `authenticate`, for endpoints any signed-in user may call."""
    return await authenticated(request, state)


def require(permission: Permission) -> Callable[..., Awaitable[Ctx]]:
    """A dependency granting the request only when the caller's role has `permission`."""

    async def dependency(
        request: Request, state: Annotated[ApiState, Depends(get_state)], _: Credentials = None
    ) -> Ctx:
        principal = await authenticated(request, state)
        ctx = Ctx(state, principal, client_address(request))
        if not allowed(principal.role, permission):
            denial = ctx.record(
                AuditEventId.SECURITY_ALERT,
                AuditAction.EXECUTE,
                event_type="permission_denied",
                outcome=AuditOutcome.MINOR_FAILURE,
                detail={"permission": permission.value, "method": request.method, "path": request.url.path},
            )
            await to_thread.run_sync(_append, state, denial)
            raise ApiError(403, f"role {principal.role!r} may not {permission.value}")
        return ctx

    return dependency
