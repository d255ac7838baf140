"""The FastAPI application factory: one engine per app, routers per resource, uniform errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import IntegrityError

from emr_core.clinical.files import DEFAULT_MAX_BYTES
from emr_core.clinical.forms import ensure_shipped_templates
from emr_core.clinical.pseudonyms import installation_secret
from emr_core.clinical.search import refresh_search_index
from emr_core.clinical.users import dummy_password_hash
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.migrate import require_current
from emr_core.settings import Settings
from sgm_app import web
from sgm_app.api import errors
from sgm_app.api.body_guard import BodyGuard
from sgm_app.api.deps import TOKEN_COOKIE, authenticated
from sgm_app.api.routers import admin, auth, files, forms, patients, predictions, research, studies, tasks
from sgm_app.api.state import ApiState

HANDLER_THREADS = 4
DESCRIPTION = """EMR for mammography: patients, exams and images, clinical forms, files, follow-up tasks,
audit log and reports. Authenticate with `Authorization: Bearer TOKEN` (from `sgm users add` or `/auth/login`);
GET requests also accept the `sgm_token` cookie that `/auth/login` sets. Every error is JSON
`{"detail": "...", "errors": [{"field": ..., "message": ...}]}`. Bodies are limited to 1 MiB (uploads: the
configured file limit) and answered 413 beyond; writes are authenticated before their body is read. Repeated
failed logins for an account or from an address are answered 429 with Retry-After, growing exponentially."""


def prepare_database(state: ApiState) -> None:
    """Refuse an unmigrated database; install shipped form templates; index names for search."""
    require_current(state.engine)  # NotMigratedError: only `sgm db upgrade` migrates
    for attempt in (1, 2):
        try:
            with state.writer(), session_scope(state.sessions) as session:
                ensure_shipped_templates(session)
                refresh_search_index(session)
            return
        except IntegrityError:
            # Another worker process installed the same rows first; a second pass finds them.
            if attempt == 2:
                raise


def _errors_are_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error answers are JSON even where the success is HTML, CSV or an image."""
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = body
    return schema


def _document_cookie(schema: dict[str, Any]) -> dict[str, Any]:
    """Safe reads also accept the login cookie (for the viewer's <img> tags): say so in the document."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["cookie"] = {
        "type": "apiKey",
        "in": "cookie",
        "name": TOKEN_COOKIE,
        "description": "Set by POST /auth/login; accepted on GET requests only",
    }
    for operations in schema.get("paths", {}).values():
        get = operations.get("get")
        if get and get.get("security"):
            get["security"].append({"cookie": []})
    return schema


def create_app(settings: Settings, *, max_upload_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    """Build the API for these settings; the database must already be migrated."""
    settings.root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    state = ApiState(
        settings, engine, make_session_factory(engine, settings), installation_secret(settings.root), max_upload_bytes
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare_database(state)
        dummy_password_hash()  # computed once now, not during the first login with an unknown name
        # Few threads serve more evenly than anyio's default 40: handlers are short and share the GIL, so
        # a request waiting for a thread waits in line (first come, first served) instead of sharing a
        # core with every other request. Measured with 50 clients, 30% writes, 2 processes on MariaDB:
        # p95 317 ms with 8 threads, 253-291 with 4, 257-279 with 2 (2 also parks on slow requests).
        to_thread.current_default_thread_limiter().total_tokens = HANDLER_THREADS
        state.audit_writer.start()
        yield
        state.audit_writer.stop()
        engine.dispose()

    app = FastAPI(
        title="SGM mammography EMR",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the web app serves /docs and /redoc with local assets (no CDN)
        redoc_url=None,
    )
    app.state.api = state
    errors.install(app)
    web.install(app)  # first: its pages (/, /login) take precedence over the API's bare ones
    app.add_middleware(
        BodyGuard,
        authenticate=lambda request: authenticated(request, state),
        upload_limit=max_upload_bytes,
        exempt=web.checks_its_own_writes,
    )
    for module in (auth, patients, studies, predictions, forms, files, tasks, research, admin):
        app.include_router(module.router)

    @app.get("/health", tags=["service"], summary="Liveness: answers without authentication")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _document_cookie(_errors_are_json(generated))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    return app
