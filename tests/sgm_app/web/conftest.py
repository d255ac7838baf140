"""Browser tests: the real app under uvicorn on a free loopback port, driven by Debian's chromium via playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.exam_reports import record_exam_report
from emr_core.clinical.followup import evaluate_followup
from emr_core.clinical.roles import Role
from emr_core.clinical.rules import load_rules
from emr_core.clinical.users import create_user
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.linking.registry import import_registry
from emr_core.migrate import upgrade
from emr_core.models import Study
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_app.api import create_app
from tests.conftest import _mariadb_engine, require_peer
from tests.sgm_app.web.webenv import WebServer, password_of

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _populate(settings: Settings, sessions: sessionmaker[Session], corpus: Path) -> None:
    generate_corpus(corpus, CorpusOptions(patients=4, seed=21, columns=96, rows=120, prior_fraction=0.5))
    with session_scope(sessions) as session:
        for role in Role:
            create_user(session, role.value, role.value, password_of(role.value))
        import_registry(session, corpus / "registry.csv")
    ingest_paths(sessions, settings.model_copy(update={"ingest_workers": 1}), [corpus / "dicom"])
    link_studies(sessions)
    with session_scope(sessions) as session:
        # BI-RADS 3 on the oldest studies: short-interval follow-ups, already overdue (the exams are in the past).
        linked = session.scalars(select(Study.id).where(Study.patient_id.is_not(None)).order_by(Study.study_date)).all()
        for study_id in linked[:3]:
            record_exam_report(session, study_id, "3", "radiologist")
    with session_scope(sessions) as session:
        evaluate_followup(session, load_rules())


@contextmanager
def _database(backend: str, settings: Settings) -> Iterator[Settings]:
    """The settings pointing at a migrated database of the backend (MariaDB: created for the run, then dropped)."""
    if backend == "sqlite":
        yield settings
        return
    databases = _mariadb_engine()
    engine = next(databases)
    try:
        yield settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False)})
    finally:
        databases.close()


# SQLite serves every browser test; the tests that write (sign-in back-off, patient register/edit/merge, forms,
# files, worklists and the review queue, adding a user, the audit chain) also run on MariaDB, marked with
# webenv.BOTH_BACKENDS (about 40 s more). Read-only pages (navigation, session, search, chart, viewer, reports,
# language, accessibility) stay on SQLite: the same queries, less CI time. pytest groups the tests by backend,
# so each server starts once.
@pytest.fixture(scope="session", params=["sqlite"])
def web_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """One app per backend for the web tests, with a user per role, a linked synthetic corpus and follow-up tasks."""
    home = tmp_path_factory.mktemp(f"web-{request.param}")
    with _database(request.param, Settings(home=home / "sgm", web_session_idle_minutes=30)) as settings:
        settings.root.mkdir(parents=True)
        engine = make_engine(settings.url)
        try:
            upgrade(engine)
            sessions = make_session_factory(engine, settings)
            _populate(settings, sessions, home / "corpus")
            with _serving(settings) as url:
                yield WebServer(url, settings, sessions, home / "corpus")
        finally:
            engine.dispose()  # before MariaDB's database is dropped


@contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; its base URL."""
    port = _free_port()
    app = create_app(settings)
    # A minute, not a second, for the first back-off wait: on a loaded machine it must not lapse mid-test.
    app.state.api.login_guard.base = 60
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium (never a downloaded build); with CI=true its absence fails.

    Per module, so playwright's event loop never outlives the browser tests into other packages' tests.
    """
    require_peer(shutil.which("chromium") is not None and Path(CHROMIUM).exists(), "chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_peer(False, "the playwright Python package is not installed")
        raise
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, web_server: WebServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) at a 1366x768 screen, in English."""
    context = browser.new_context(base_url=web_server.url, viewport={"width": 1366, "height": 768}, locale="en-US")
    context.set_default_timeout(5_000)
    tab = context.new_page()
    yield tab
    context.close()
