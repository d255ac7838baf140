"""The access endpoint nginx asks about every Label Studio request, and the few routes it forwards through us."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.access import Decision, Grants, Resolver, decide, names_local_files, normal_path, referenced_ids
from annotation_ui.assignments_access import GatewayEvent, audit_refusal, audit_task_opened, grants_for, task_project
from annotation_ui.client import LabelStudioClient, RequestError
from annotation_ui.prediction_filter import strip_predictions
from annotation_ui.review import review_after_submit
from annotation_ui.submit_check import refusal_message, submit_problems
from emr_core.db import session_scope
from emr_core.settings import Settings
from sgm_app.gateway.identity import Identities, credential_of
from sgm_app.gateway.images import ImageAccess
from sgm_app.gateway.pages import READER_CSS, denied_page

_SUBMIT = re.compile(r"^/api/tasks/(\d+)/annotations/?$")
_UPDATE = re.compile(r"^/api/annotations/(\d+)/?$")
_NEXT = re.compile(r"^/api/projects/\d+/next/?$")
_TASK_LIST = re.compile(r"^/api/tasks/?$")
_TASKS = re.compile(r"^/api/(tasks/?|tasks/\d+/?|projects/\d+/next/?)$")
log = logging.getLogger(__name__)
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding", "upgrade"}


@dataclass
class Gateway:
    """What the endpoint needs: the database, Label Studio, and its administrator (who passes everywhere)."""

    sessions: sessionmaker[Session]
    ls_url: str
    admin_email: str
    admin_token: str
    settings: Settings  # where Label Studio's document root (the rendered images) is
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))
    _owners: dict[tuple[str, int], int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.identities = Identities(self.ls_url, self.http)
        self.images = ImageAccess(self.settings)

    def _owner(self, kind: str, object_id: int) -> int | None:
        """The task of an annotation or draft, asked once of Label Studio (an annotation never changes task)."""
        key = (kind, object_id)
        if key not in self._owners:
            response = self.http.get(
                f"{self.ls_url}/api/{kind}/{object_id}", headers={"Authorization": f"Token {self.admin_token}"}
            )
            task = response.json().get("task") if response.status_code == 200 else None
            self._owners[key] = int(task) if isinstance(task, int) else None
        return self._owners[key]

    def decide(self, session: Session, email: str, method: str, uri: str) -> Decision:
        if names_local_files(uri):
            return self.images.decide(session, email, method, uri)  # every image shown: the cached way
        grants = grants_for(session, email)
        resolver = Resolver(
            task_project=lambda t: task_project(session, t),
            annotation_task=lambda a: self._owner("annotations", a),
            draft_task=lambda d: self._owner("drafts", d),
        )
        return decide(grants, method, uri, resolver)

    def who(self, request: Request) -> str:
        return self.identities.email(
            credential_of(request.headers.get("cookie", ""), request.headers.get("authorization", ""))
        )


def _event(request: Request, email: str, reason: str) -> GatewayEvent:
    return GatewayEvent(
        email=email,
        address=request.headers.get("x-real-ip", request.client.host if request.client else ""),
        method=request.headers.get("x-original-method", request.method),
        uri=request.headers.get("x-original-uri", str(request.url.path)),
        reason=reason,
    )


def check(gw: Gateway, request: Request) -> Response:
    """auth_request: 204 lets nginx pass the request on, 403 (with the reason in a header) refuses it."""
    email = gw.who(request)
    if not email or email == gw.admin_email:
        return Response(status_code=204)  # anonymous: Label Studio itself sends them to its login page
    event = _event(request, email, "")
    with session_scope(gw.sessions) as session:
        decision = gw.decide(session, email, event.method, event.uri)
        if not decision.allow:
            audit_refusal(session, GatewayEvent(**{**event.__dict__, "reason": decision.reason}))
            return Response(status_code=403, headers={"X-Sgm-Reason": quote(decision.reason)})
        for task_id in decision.opened_tasks:
            audit_task_opened(session, event, task_id)
    return Response(status_code=204, headers={"X-Sgm-User": quote(email)})


def denied(request: Request) -> Response:
    """The 403 page (HTML for pages, JSON that Label Studio's frontend shows for API calls)."""
    reason = unquote(request.headers.get("x-sgm-reason", "")) or "not one of your projects or tasks"
    uri = request.headers.get("x-original-uri", "")
    if uri.startswith("/api/"):
        return JSONResponse({"detail": f"Refused by the reading gateway: {reason}.", "status_code": 403}, 403)
    method = request.headers.get("x-original-method", "GET")
    return HTMLResponse(denied_page(reason, method, uri), status_code=403)


def _review_listing(gw: Gateway, request: Request, path: str) -> str | None:
    """A reviewer's task list of a project they see only in part (a senior's of the first reader's project): the
    query that asks Label Studio for the tasks under review alone (None for any other request)."""
    email = gw.who(request)
    if request.method != "GET" or not _TASK_LIST.match(normal_path(path)) or not email or email == gw.admin_email:
        return None
    params = parse_qsl(request.url.query, keep_blank_values=True)
    named = referenced_ids(normal_path(path), request.url.query)["project"]  # read as the policy reads them
    with session_scope(gw.sessions) as session:
        only = grants_for(session, email).only_tasks
    limited = [only[p] for p in named if p in only]
    if not limited:
        return None
    # the view's filters and selection are replaced by ours (never an empty selection: Label Studio reads that
    # as "all"); the policy let through exactly one project with at least one task under review
    tasks = sorted(limited[0]) or [-1]
    selection = {"filters": {"conjunction": "and", "items": []}, "selectedItems": {"all": False, "included": tasks}}
    kept = [(k, v) for k, v in params if k not in ("view", "query", "filters", "selectedItems")]
    return urlencode([*kept, ("query", json.dumps(selection))])


def _forward(gw: Gateway, request: Request, path: str, body: bytes) -> httpx.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    headers["host"] = request.headers.get("x-forwarded-host", request.headers.get("host", ""))
    query = request.url.query
    if (review := _review_listing(gw, request, path)) is not None:
        query, body = review, b""  # a body could name a view of its own: Label Studio reads it after the query
    url = f"{gw.ls_url}{path}" + (f"?{query}" if query else "")
    return gw.http.request(request.method, url, headers=headers, content=body)


def _reply(upstream: httpx.Response, content: bytes | None = None) -> Response:
    keep = {"content-type", "set-cookie", "cache-control", "vary", "location"}
    headers = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() in keep]
    response = Response(content=upstream.content if content is None else content, status_code=upstream.status_code)
    for key, value in headers:
        response.headers.append(key, value)
    return response


def _audit_next(gw: Gateway, request: Request, upstream: httpx.Response) -> None:
    """`/api/projects/<id>/next` hands the reader a task without naming it in the URL: audit it from the answer."""
    email = gw.who(request)
    try:
        task_id = upstream.json().get("id")
    except (ValueError, AttributeError):
        return
    if email and email != gw.admin_email and isinstance(task_id, int):
        with session_scope(gw.sessions) as session:
            audit_task_opened(session, _event(request, email, ""), task_id)


def _only_granted(payload: Any, grants: Grants) -> Any:
    """A project list cut down to the reader's projects (paginated or plain)."""
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        kept = [p for p in payload["results"] if isinstance(p, dict) and p.get("id") in grants.projects]
        return {**payload, "results": kept, "count": len(kept), "next": None}
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, dict) and p.get("id") in grants.projects]
    return payload


def _recheck(gw: Gateway, request: Request, path: str) -> Response | None:
    """The access decision again, for a request that reached the forwarder without nginx's auth_request."""
    email = gw.who(request)
    if not email or email == gw.admin_email:
        return None
    uri = path + (f"?{request.url.query}" if request.url.query else "")
    with session_scope(gw.sessions) as session:
        decision = gw.decide(session, email, request.method, uri)
        if decision.allow:
            return None
        audit_refusal(
            session, GatewayEvent(email, _event(request, email, "").address, request.method, uri, decision.reason)
        )
    return JSONResponse({"detail": f"Refused by the reading gateway: {decision.reason}.", "status_code": 403}, 403)


def _submitted_task(gw: Gateway, method: str, path: str) -> int | None:
    if method == "POST" and (m := _SUBMIT.match(path)):
        return int(m.group(1))
    if method in ("PATCH", "PUT") and (m := _UPDATE.match(path)):
        return gw._owner("annotations", int(m.group(1)))
    return None


def _refuse_invalid(gw: Gateway, request: Request, path: str, body: bytes) -> Response | None:
    """400 with a readable message when a submitted read breaks the campaign's schema."""
    task_id = _submitted_task(gw, request.method, path)
    if task_id is None:
        return None
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = None
    with session_scope(gw.sessions) as session:
        problems = submit_problems(session, task_id, payload)
        if problems:
            audit_refusal(session, _event(request, gw.who(request), "invalid read: " + "; ".join(problems)[:400]))
    if not problems:
        return None
    message = refusal_message(problems)
    reply: dict[str, Any] = {"detail": message, "validation_errors": {"result": problems}, "status_code": 400}
    if request.headers.get("authorization"):
        return JSONResponse(reply, status_code=400)  # API clients get the plain validation error
    # Label Studio 1.23's editor turns any failed submit into a fixed "Annotation is not saved" toast; only a
    # 403 whose display_context reason is PAUSED reaches its error dialog, which shows `detail` and the list.
    return JSONResponse({**reply, "status_code": 403, "display_context": {"reason": "PAUSED"}}, status_code=403)


async def forward(gw: Gateway, request: Request, path: str) -> Response:
    """Submissions (validated first) and the project list (filtered), passed on to Label Studio."""
    path = "/" + path
    body = await request.body()
    refusal = await _run(_recheck, gw, request, path)  # this port is on loopback too: never trust nginx alone
    if refusal is None:
        refusal = await _run(_refuse_invalid, gw, request, path, body)
    if refusal is not None:
        return refusal
    upstream = await _run(_forward, gw, request, path, body)
    return await _run(_filtered, gw, request, path, upstream)


def _filtered(gw: Gateway, request: Request, path: str, upstream: httpx.Response) -> Response:
    """A reader's project list shows only their projects, tasks carry predictions only where the reader's scheme
    shows them, the labeling stream's next task is audited as opened, and a submitted first read enters review."""
    if _NEXT.match(path) and upstream.status_code == 200:
        _audit_next(gw, request, upstream)
    if upstream.status_code in (200, 201) and (task_id := _submitted_task(gw, request.method, path)) is not None:
        _enter_review(gw, task_id)
    listing = request.method == "GET" and re.match(r"^/api/projects/?$", path) is not None
    tasks = request.method == "GET" and _TASKS.match(path) is not None
    if not (listing or tasks) or upstream.status_code != 200 or "json" not in upstream.headers.get("content-type", ""):
        return _reply(upstream)
    email = gw.who(request)
    if not email or email == gw.admin_email:
        return _reply(upstream)
    with session_scope(gw.sessions) as session:
        grants = grants_for(session, email)
    if tasks:
        return _reply(upstream, json.dumps(strip_predictions(upstream.json(), grants.predictions)).encode())
    return _reply(upstream, json.dumps(_only_granted(upstream.json(), grants)).encode())


def _enter_review(gw: Gateway, task_id: int) -> None:
    """Under senior review, the side of a first read just submitted enters review now (a failure is logged: the
    review queue catches up at the next submission or `sgm campaign review`)."""
    try:
        with session_scope(gw.sessions) as session:
            review_after_submit(session, LabelStudioClient(gw.ls_url, gw.admin_token), task_id)
    except (RequestError, ValueError) as exc:
        log.warning("task %s could not enter review: %s", task_id, exc)


async def _run(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def create_app(gw: Gateway) -> FastAPI:
    """The endpoint; nginx exposes only /_gateway/ui.css and /_gateway/health of it directly."""
    app = FastAPI(title="sgm reading gateway", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/_gateway/auth")
    def auth(request: Request) -> Response:
        return check(gw, request)

    @app.api_route("/_gateway/denied", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    def denied_route(request: Request) -> Response:
        return denied(request)

    @app.get("/_gateway/health")
    def health() -> dict[str, str]:
        return {"status": "UP"}

    @app.get("/_gateway/ui.css")
    def ui_css(request: Request) -> Response:
        email = gw.who(request)
        css = READER_CSS if email and email != gw.admin_email else ""
        return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})

    @app.api_route("/_gateway/forward/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward_route(request: Request, path: str) -> Response:
        return await forward(gw, request, path)

    return app
