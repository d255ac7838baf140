"""The FastAPI application factory: one engine per app, routers per resource, uniform errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from emr_core.clinical.files import DEFAULT_MAX_BYTES
from emr_core.clinical.forms import ensure_shipped_templates
from emr_core.clinical.pseudonyms import installation_secret
from emr_core.clinical.search import refresh_search_index
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.migrate import is_up_to_date
from emr_core.settings import Settings
from sgm_app import web
from sgm_app.api import errors
from sgm_app.api.routers import admin, auth, files, forms, patients, research, studies, tasks
from sgm_app.api.state import ApiState

HANDLER_THREADS = 8
DESCRIPTION = """EMR for mammography: patients, exams and images, clinical forms, files, follow-up tasks,
audit log and reports. Authenticate with `Authorization: Bearer TOKEN` (from `sgm users add` or `/auth/login`)."""


def prepare_database(state: ApiState) -> None:
    """Refuse an unmigrated database; install shipped form templates; index names for search."""
    if not is_up_to_date(state.engine):
        raise RuntimeError(
            f"database {state.engine.url.render_as_string()} is not at the latest schema; run `sgm db upgrade`"
        )
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


def create_app(settings: Settings, *, max_upload_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    """Build the API for these settings; the database must already be migrated."""
    settings.root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    state = ApiState(
        settings, engine, make_session_factory(engine), installation_secret(settings.root), max_upload_bytes
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare_database(state)
        # Few threads serve more evenly than anyio's default 40: handlers are short and share the GIL
        # and a connection pool of about this size, so extra threads only queue while holding memory.
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
    for module in (auth, patients, studies, forms, files, tasks, research, admin):
        app.include_router(module.router)

    @app.get("/health", tags=["service"], summary="Liveness: answers without authentication")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
