"""A radiologist reads one side with the keyboard and the mouse in a real browser, through the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.labeling_config import SAME_LESION
from annotation_ui.reads import group_result
from emr_core.db import session_scope
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv
from tests.annotation_ui.test_double_reading import provision
from tests.annotation_ui.test_gateway import _projects
from tests.annotation_ui.test_gateway_browser import _log_in, browser  # noqa: F401 (the fixture)
from tests.support.annotation_scenario import ground_truth, reader_tasks
from tests.support.lsenv import LabelStudioEnv

VIEWPORT = {"width": 1920, "height": 1080}  # a reading workstation's side monitor


def _draw(page: Any, view: int, key: str, fx: float, fy: float) -> tuple[float, float]:
    """Pick a finding with its key, drag a box on one image, and select it; returns its centre."""
    page.keyboard.press(key)
    stage = page.locator(".konvajs-content").nth(view).bounding_box()
    x, y = stage["x"] + stage["width"] * fx, stage["y"] + stage["height"] * fy
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 50, steps=5)
    page.mouse.up()
    page.mouse.click(x + 30, y + 25)
    return x + 30, y + 25


def _describe_calcification(page: Any) -> None:
    for value in ("amorphous", "grouped"):
        page.get_by_role("radio", name=value, exact=True).locator("visible=true").click()


def _open(page: Any, url: str, project: int, task: int) -> None:
    page.goto(f"{url}/projects/{project}/data?tab=0&task={task}")
    page.get_by_role("button", name="Submit").or_(page.get_by_role("button", name="Update")).first.wait_for()
    page.locator(".konvajs-content").nth(1).wait_for()


def _regions(page: Any) -> int:
    """Boxes listed in the Regions panel."""
    return int(page.locator(".lsf-outliner-item").count())


def _read_with_the_keyboard(page: Any) -> None:
    """A calcification on both views, its BI-RADS 4A by key, linked with Alt+R, the side scored by key."""
    cc = _draw(page, 0, "k", 0.45, 0.35)
    page.keyboard.press("e")  # CC box: finding BI-RADS 4
    page.keyboard.press("z")  # subtype A
    column = page.get_by_text("CC box: finding BI-RADS").bounding_box()
    assert column is not None and column["y"] + column["height"] < VIEWPORT["height"]  # in sight, no scrolling
    _describe_calcification(page)
    page.keyboard.press("u")
    mlo = _draw(page, 1, "Shift+K", 0.5, 0.5)
    page.keyboard.press("Shift+E")
    page.keyboard.press("Shift+Z")
    _describe_calcification(page)
    page.keyboard.press("u")
    page.mouse.click(*cc)
    page.keyboard.press("Alt+r")  # the instruction's way to link the lesion's two boxes
    page.mouse.click(*mlo)
    page.keyboard.press("u")
    for key in ("b", "4", "7"):  # composition b, assessment 4A
        page.keyboard.press(key)


def test_a_side_read_with_hotkeys_and_a_link_is_submitted_and_reopens_without_duplicates(
    browser: Any,  # noqa: F811
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
    tmp_path: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "screen")
    project = _projects(session_factory, campaign_id)["reader_1"]
    with session_scope(session_factory) as session:
        ids = sorted(t.ls_task_id for t in reader_tasks(session, "reader_1", campaign_id, ground_truth(corpus)))
    first = ids[0]
    other, after = 1, 2  # rows of the task list (by task id), neither of them the task read above
    account = label_studio.readers["reader_1"]
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(60_000)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if "Key already added" in m.text else None)
    _log_in(page, gateway.url, account.email, account.password)
    _open(page, gateway.url, project, first)
    _read_with_the_keyboard(page)
    page.screenshot(path=str(tmp_path / "reading-screen.png"))
    with page.expect_response(lambda r: "/annotations" in r.url and r.request.method == "POST") as sent:
        page.get_by_role("button", name="Submit").click()
    assert sent.value.status == 201, sent.value.text()
    result = json.loads(sent.value.text())["result"]
    grouped = group_result(result)
    assert [labels for _, _, labels in grouped.relations] == [[SAME_LESION]]  # drawn without picking a label
    assert {r.view: r.choices["birads"] + r.choices["birads_subtype"] for r in grouped.regions.values()} == {
        "cc": ["4", "A"],
        "mlo": ["4", "A"],
    }
    assert grouped.side == {"composition": ["b"], "assessment": ["4"], "assessment_subtype": ["A"]}
    assert warnings == []  # Label Studio warns when two controls share a key

    _open(page, gateway.url, project, first)  # the submitted read, reopened: each box once
    page.locator(".lsf-outliner-item").first.wait_for()
    assert _regions(page) == 2
    assert label_studio.admin.get(f"/api/tasks/{first}")["total_annotations"] == 1

    # Draw on another task, leave it from the task list (the editor saves a draft), come back: one box more.
    rows = page.locator("[class*=table__row-wrapper]")
    rows.nth(other).click()
    page.locator(".konvajs-content").nth(1).wait_for()
    before = _regions(page)
    _draw(page, 0, "m", 0.3, 0.3)
    page.keyboard.press("u")
    rows.nth(after).click()
    page.locator(".konvajs-content").nth(1).wait_for()
    rows.nth(other).click()
    page.locator(".lsf-outliner-item").first.wait_for()
    assert _regions(page) == before + 1
    page.screenshot(path=str(tmp_path / "reopened-draft.png"))
