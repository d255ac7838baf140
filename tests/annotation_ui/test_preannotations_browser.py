"""In a real browser (Debian's chromium through the gateway): the AI-assisted reader's labeling screen shows the
model's boxes; a blind reader's shows none, although predictions were put on their task behind our back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.labeling_config import box_control
from annotation_ui.preannotations import push_predictions
from emr_core.db import session_scope
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.annotation_ui.test_gateway_browser import _log_in, browser  # noqa: F401 (the fixture)
from tests.annotation_ui.test_preannotations import _role_tasks, store_predictions
from tests.support.lsenv import LabelStudioEnv

# The regions the editor holds, read from the page: rectangles listed in its region panel.
REGIONS_JS = """() => Array.from(document.querySelectorAll('[class*="outliner-item"], [class*="region-item"]'))
  .map(e => e.innerText.trim()).filter(t => t.length > 0)"""


def _screen(chromium: Any, gateway: GatewayEnv, account: Any, project: int, task: int) -> tuple[list[str], str]:
    """What the reader's labeling screen shows for one task: region entries and the page text."""
    page = chromium.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    _log_in(page, gateway.url, account.email, account.password)
    page.goto(f"{gateway.url}/projects/{project}/data?tab=0&task={task}")
    page.get_by_role("button", name="Submit").wait_for(timeout=90_000)
    page.wait_for_timeout(3000)  # the editor draws pre-annotations after the task loads
    regions = page.evaluate(REGIONS_JS)
    page.screenshot(path=str(gateway.log.parent / f"screen-{project}.png"))
    return regions, page.inner_text("body")


def test_ai_reader_sees_predicted_boxes_and_blind_reader_does_not(
    browser: Any,  # noqa: F811
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    ai = provision_scheme(label_studio, session_factory, ls_settings, corpus, "ai-screen", "ai_assisted")
    blind = provision_scheme(label_studio, session_factory, ls_settings, corpus, "blind-screen", "blind_double")
    store_predictions(session_factory, ai)
    with session_scope(session_factory) as session:
        push_predictions(session, label_studio.admin, "ai-screen", "baseline", "3")
    ai_project, ai_tasks = _role_tasks(session_factory, ai, "reader_1")
    blind_project, blind_tasks = _role_tasks(session_factory, blind, "reader_2")
    box = {"x": 20, "y": 20, "width": 30, "height": 30, "rotation": 0, "rectanglelabels": ["mass"]}
    rogue = [
        {"from_name": box_control(v), "to_name": v, "type": "rectanglelabels", "value": box} for v in ("cc", "mlo")
    ]
    label_studio.admin.create_prediction(min(blind_tasks), rogue, "rogue:1")

    seen, text = _screen(browser, gateway, label_studio.readers["reader_1"], ai_project, min(ai_tasks))
    assert len(seen) >= 2, (seen, text[:3000])
    assert "baseline:3" in text  # the prediction's tab carries the model version
    hidden, text = _screen(browser, gateway, label_studio.readers["reader_2"], blind_project, min(blind_tasks))
    assert hidden == [], (hidden, text[:3000])
    assert "rogue:1" not in text
