"""ASGI middleware: refuse oversized bodies (declared or streamed) and unauthenticated writes before reading them."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import Match

from sgm_app.api.errors import ApiError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON_LIMIT = 1024 * 1024  # forms, templates and demographics are far smaller
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around an upload
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ANONYMOUS = frozenset({"/auth/login"})


async def _reply(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": message, "errors": []}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """Outermost layer: 413 past the limit (Content-Length or counted bytes); 401 before an anonymous body."""

    def __init__(
        self,
        app: Any,
        *,
        authenticate: Callable[[Request], Awaitable[object]],
        upload_limit: int,
        exempt: Callable[[str], bool] = lambda _path: False,
    ) -> None:
        self.app, self.authenticate, self.exempt = app, authenticate, exempt
        self.upload_limit = upload_limit + MULTIPART_SLACK

    def _limit(self, scope: Scope) -> int:
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        return self.upload_limit if multipart else JSON_LIMIT

    def _routed(self, scope: Scope) -> bool:
        """A REST API route (bearer token); the web pages check their own session cookie and CSRF token."""
        if self.exempt(scope["path"]):
            return False
        router = scope["app"].router if "app" in scope else None
        routes = router.routes if router is not None else []
        return any(route.matches(scope)[0] is Match.FULL for route in routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, f"request body larger than the limit of {limit} bytes")
            return
        if scope["path"] not in _ANONYMOUS and self._routed(scope):
            try:  # the token is checked before a single body byte is read
                await self.authenticate(Request(scope))
            except ApiError as exc:
                await _reply(send, exc.status, exc.message)
                return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen, over, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                over = True  # the app sees a client that went away; the answer below is a 413
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await _reply(send, 413, f"request body larger than the limit of {limit} bytes")
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
            if not started:
                await _reply(send, 413, f"request body larger than the limit of {limit} bytes")
