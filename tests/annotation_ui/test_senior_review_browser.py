"""A senior reviewer in a real browser (Debian's chromium) opens a first read under review through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of
from emr_core.db import session_scope
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.annotation_ui.test_gateway_browser import _log_in, browser  # noqa: F401 (the fixture)
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv


def _open_task(page: Any, url: str, project: int, task: int) -> list[str]:
    """Open one task in the Data Manager's editor; returns the URLs the gateway refused on the way."""
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
    page.goto(f"{url}/projects/{project}/data?tab=0&task={task}")
    try:
        page.locator(".konvajs-content").nth(1).wait_for(timeout=90_000)
        page.locator(".lsf-outliner-item").first.wait_for(timeout=90_000)
    except PlaywrightTimeout as exc:
        raise AssertionError(f"the editor did not show the read; refused {refused}: {page.inner_text('body')}") from exc
    return refused


def test_the_senior_opens_the_first_read_in_the_browser_and_others_cannot(
    browser: Any,  # noqa: F811
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "senior-ui", "senior_review")
    with session_scope(session_factory) as session:
        tasks = reader_tasks(session, "reader_1", campaign_id, ground_truth(corpus))
        projects = {a.role: a.ls_project_id for a in assignments_of(session, campaign_id).values()}
    first = next(t for t in tasks if len(t.gt.findings) == 1)  # one lesion: a box on each view
    other = next(t for t in tasks if t.ls_task_id != first.ls_task_id)
    reader = gateway.as_token(label_studio.readers["reader_1"].token)
    submitted = reader.post(
        f"{gateway.url}/api/tasks/{first.ls_task_id}/annotations",
        json={"result": read_result(first.gt, first.mappings)},
        timeout=60,
    )
    assert submitted.status_code == 201, submitted.text

    senior = label_studio.readers["reader_2"]
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    _log_in(page, gateway.url, senior.email, senior.password)
    refused = _open_task(page, gateway.url, projects["reader_1"], first.ls_task_id)
    assert refused == [], refused  # nothing the editor needs is refused
    assert page.locator(".lsf-outliner-item").count() == 2  # the first reader's two boxes (CC and MLO)
    images = page.evaluate("() => [...document.images].map(i => [i.src, i.naturalWidth])")
    shown = [(src, width) for src, width in images if "/data/local-files/" in src]
    assert len(shown) == 2 and all(width > 0 for _, width in shown), images  # both views loaded
    rows = page.locator("[class*=table__row-wrapper]")  # the task list shows the read under review alone
    assert rows.count() == 1, page.inner_text("body")[:2000]

    # another first read (not submitted) stays closed to the senior, in the page and through its API
    response = page.goto(f"{gateway.url}/projects/{projects['reader_1']}/data?tab=0&task={other.ls_task_id}")
    assert response is not None and response.status == 403

    # a reader outside the campaign sees nothing of it, the read under review included
    outsider = label_studio.readers["adjudicator"]
    page2 = browser.new_context().new_page()
    _log_in(page2, gateway.url, outsider.email, outsider.password)
    response = page2.goto(f"{gateway.url}/projects/{projects['reader_1']}/data?tab=0&task={first.ls_task_id}")
    assert response is not None and response.status == 403
    listing = page2.goto(f"{gateway.url}/api/tasks?project={projects['reader_1']}")
    assert listing is not None and listing.status == 403
