"""A radiologist in a real browser (Debian's chromium driven by playwright), through the reading gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.consolidation import consolidate_campaign
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.models_annotation import CampaignTask
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, audit_count
from tests.annotation_ui.test_double_reading import provision
from tests.annotation_ui.test_gateway import OPENED, REFUSED, _projects
from tests.annotation_ui.test_gateway_submit import _bare_calcification
from tests.conftest import require_peer
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The request Label Studio's editor sends on Submit, from the page with the reader's session and CSRF cookie.
SUBMIT_JS = """async ([url, body]) => {
  const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)});
  return [r.status, await r.text()];
}"""


@pytest.fixture
def browser() -> Iterator[Any]:
    require_peer(CHROMIUM.is_file(), f"chromium not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_peer(False, "the playwright package is not installed (pip install playwright)")
        raise
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _log_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/user/login" not in u, timeout=60_000)


def test_reader_in_a_browser_sees_only_their_project_and_submits_through_the_gateway(
    browser: Any,
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "browser")
    projects, gt = _projects(session_factory, campaign_id), ground_truth(corpus)
    account = label_studio.readers["reader_1"]
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    _log_in(page, gateway.url, account.email, account.password)
    page.goto(f"{gateway.url}/projects/")
    page.get_by_text("browser · blind read 1").first.wait_for()
    body = page.inner_text("body")
    assert "blind read 2" not in body and "adjudication" not in body
    for path in (
        f"/projects/{projects['reader_2']}/data",
        f"/projects/{projects['adjudicator']}/data",
        f"/projects/{projects['reader_1']}/settings",
    ):
        response = page.goto(gateway.url + path)
        assert response is not None and response.status == 403, path
        assert "not available to you" in page.inner_text("body")
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, account.email) == 3
        uris = {e.detail["uri"] for e in session.scalars(select(AuditEvent).where(AuditEvent.event_type == REFUSED))}
    assert f"/projects/{projects['reader_2']}/data" in uris

    with session_scope(session_factory) as session:
        t1 = next(t for t in reader_tasks(session, "reader_1", campaign_id, gt) if len(t.gt.findings) == 1)
        t2 = next(
            t for t in reader_tasks(session, "reader_2", campaign_id, gt) if t.campaign_task_id == t1.campaign_task_id
        )
    # Opening the task in the labeling screen is audited as an access to its two images.
    refused: list[str] = []  # the reader's own screens must work: nothing they load may be refused
    page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
    with page.expect_response(lambda r: f"/api/tasks/{t1.ls_task_id}" in r.url, timeout=90_000) as opened:
        page.goto(f"{gateway.url}/projects/{projects['reader_1']}/data?tab=0&task={t1.ls_task_id}")
    assert opened.value.status == 200
    page.get_by_text("Submit").first.wait_for(timeout=90_000)  # the editor is up
    assert refused == []
    with session_scope(session_factory) as session:
        assert audit_count(session, OPENED, account.email) >= 1

    submit = f"{gateway.url}/api/tasks/{t1.ls_task_id}/annotations?project={projects['reader_1']}"
    incomplete = [i for i in read_result(t1.gt, t1.mappings) if i.get("type") != "relation"][:2]
    incomplete.append(_bare_calcification(t1))
    status, text = page.evaluate(SUBMIT_JS, [submit, {"result": incomplete}])
    assert status == 403, text  # a browser session gets the status Label Studio's editor explains
    message = json.loads(text)["detail"]
    assert "calcification (CC box calc1) without calc_morphology and calc_distribution" in message
    status, text = page.evaluate(SUBMIT_JS, [submit, {"result": read_result(t1.gt, t1.mappings)}])
    assert status == 201, text
    assert json.loads(text)["completed_by"] == account.ls_user_id

    r2 = gateway.as_token(label_studio.readers["reader_2"].token)
    done = r2.post(
        f"{gateway.url}/api/tasks/{t2.ls_task_id}/annotations", json={"result": read_result(t2.gt, t2.mappings)}
    )
    assert done.status_code == 201, done.text
    consolidate_campaign(session_factory, label_studio.admin, "browser")
    with session_scope(session_factory) as session:
        assert session.get(CampaignTask, t1.campaign_task_id).state == "concordant"


def _press_until_checked(page: Any, key: str, tries: int = 6) -> None:
    """Press a choice's hotkey until its radio is checked (the editor binds its keys a moment after it shows)."""
    checked = (
        "k => [...document.querySelectorAll('label')].some(l => l.innerText === `${k}[${k}]` "
        "&& l.querySelector('input[type=radio]')?.checked)"
    )
    for _ in range(tries):
        page.keyboard.press(key)
        try:
            page.wait_for_function(checked, arg=key, timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the hotkey {key!r} did not check its choice")


def test_the_editor_shows_why_a_read_is_refused_at_submit(
    browser: Any,
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    """Clicking Submit in Label Studio's editor: the gateway's refusal, then Label Studio's own required check."""
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "editor")
    projects, gt = _projects(session_factory, campaign_id), ground_truth(corpus)
    with session_scope(session_factory) as session:
        task = reader_tasks(session, "reader_1", campaign_id, gt)[0]
    account = label_studio.readers["reader_1"]
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    _log_in(page, gateway.url, account.email, account.password)
    page.goto(f"{gateway.url}/projects/{projects['reader_1']}/data?tab=0&task={task.ls_task_id}")
    submit = page.get_by_role("button", name="Submit")
    submit.wait_for(timeout=90_000)
    # Composition and an assessment of 4 without its subtype: Label Studio's checks pass, ours refuse.
    # By their hotkeys (annotation_ui/hotkeys.py): composition a, side assessment 4; each choice shows its key.
    for key in ("a", "4"):
        _press_until_checked(page, key)
    with page.expect_response(lambda r: "/annotations" in r.url and r.request.method == "POST") as sent:
        submit.click()
    assert sent.value.status == 403  # see sgm_app/gateway/app.py: the only status the editor explains
    page.get_by_text("assessment 4 without its subtype", exact=False).first.wait_for()
    assert "This read cannot be submitted yet" in page.inner_text("body")
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, account.email) == 1
    assert label_studio.admin.get(f"/api/tasks/{task.ls_task_id}")["total_annotations"] == 0
