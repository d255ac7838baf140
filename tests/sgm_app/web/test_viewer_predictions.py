"""Model predictions in the viewer, in a browser: dashed AI boxes where the model put them at every zoom and in a
mirrored view, hidden until asked for, a failed run never drawn, a garbage row and a study without any harmless."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from sqlalchemy import func, select, text

from emr_core.db import session_scope
from emr_core.models import Instance, Series, Study
from emr_core.models_ml import StudyInference
from emr_core.objectstore.select import stored_file
from sgm_models.predictions import ImagePrediction, store_done, store_failure
from tests.sgm_app.web.webenv import WebServer, sign_in

# Stored-pixel boxes per view; LMLO's row is then edited into invalid JSON.
BOXES = {
    "RCC": {"x_min": 10.0, "y_min": 20.0, "x_max": 40.0, "y_max": 60.0, "score": 0.83, "label": "mass"},
    "LCC": {"x_min": 50.0, "y_min": 30.0, "x_max": 70.0, "y_max": 45.0, "score": 0.27, "label": "calcification"},
    "RMLO": {"x_min": 5.0, "y_min": 70.0, "x_max": 25.0, "y_max": 100.0, "score": 0.61, "label": "mass"},
    "LMLO": {"x_min": 30.0, "y_min": 30.0, "x_max": 60.0, "y_max": 60.0, "score": 0.99, "label": "mass"},
}
ALL_LOADED = (
    "window.sgmViewers && window.sgmViewers.length > 0 && "
    "window.sgmViewers.every(v => v.world.getItemCount() === 1 && v.world.getItemAt(0).getFullyLoaded())"
)
# Zoom the first (RCC) view three times past home, centred on its (mirrored) box.
ZOOM_IN = """() => {
  const v = window.sgmViewers[0], cols = Number(v.element.dataset.columns);
  v.viewport.zoomTo(v.viewport.getHomeZoom() * 3, null, true);
  v.viewport.panTo(v.viewport.imageToViewportCoordinates(new OpenSeadragon.Point(cols - 25, 40)), true);
}"""
# Each AI box's on-screen rectangle beside where its stored pixels are drawn, both in page pixels.
GEOMETRY = """(boxes) => window.sgmViewers.flatMap(v => {
  const el = v.element.closest('.view'), box = boxes[el.dataset.position];
  if (!box) return [];
  const cols = Number(el.dataset.columns), mirrored = el.dataset.src.includes('mirrored=1');
  const left = mirrored ? cols - box.x_max : box.x_min, right = mirrored ? cols - box.x_min : box.x_max;
  const origin = el.getBoundingClientRect();
  const a = v.viewport.imageToViewerElementCoordinates(new OpenSeadragon.Point(left, box.y_min));
  const b = v.viewport.imageToViewerElementCoordinates(new OpenSeadragon.Point(right, box.y_max));
  return [...el.querySelectorAll('.ai-box')].map(o => {
    const r = o.getBoundingClientRect();
    return {position: el.dataset.position, mirrored, zoom: v.viewport.getZoom(true),
      drawn: [r.left, r.top, r.right, r.bottom],
      expected: [origin.left + a.x, origin.top + a.y, origin.left + b.x, origin.top + b.y]};
  });
})"""


def _mirror_on_disk(server: WebServer, instance: Instance) -> None:
    """Store the image flipped with its chest wall on the left, as some devices do: the viewer must mirror it back."""
    with stored_file(server.settings, instance.stored_path) as path:
        ds = pydicom.dcmread(path)
        ds.PixelData = np.ascontiguousarray(np.fliplr(ds.pixel_array)).tobytes()
        ds.PatientOrientation = ["A", "L"]
        tmp = path.with_suffix(".tmp")
        ds.save_as(tmp)
        os.replace(tmp, path)
    for cached in server.settings.rendered_dir.glob(f"*/{instance.sop_instance_uid}*.png"):
        cached.unlink()


def _predicted_patient(server: WebServer) -> tuple[int, int, dict[str, Instance]]:
    """The patient with the fewest studies: its newest study gets a done run, a newer failed run and a garbage row."""
    with session_scope(server.sessions) as session:
        pid = session.scalar(
            select(Study.patient_id)
            .where(Study.patient_id.is_not(None))
            .group_by(Study.patient_id)
            .order_by(func.count(), Study.patient_id.desc())
            .limit(1)
        )
        study = session.scalars(select(Study).where(Study.patient_id == pid).order_by(Study.study_date.desc())).first()
        assert pid is not None and study is not None
        images = {
            f"{i.laterality}{i.view}": i
            for i in session.scalars(select(Instance).join(Series).where(Series.study_id == study.id))
        }
        preds = [ImagePrediction(images[p].id, "0" * 64, [b], b["score"]) for p, b in BOXES.items()]
        store_done(session, study.id, "detector", "4", "a" * 64, 0.74, preds)
    with session_scope(server.sessions) as session:
        store_failure(session, study.id, "detector", "5", "a" * 64, "out of memory")
        session.execute(
            text("UPDATE model_predictions SET boxes = '[{oops' WHERE instance_id = :i"), {"i": images["LMLO"].id}
        )
        session.expunge_all()
    _mirror_on_disk(server, images["RCC"])
    return pid, study.id, images


def _assert_aligned(page: Any, expected_positions: set[str]) -> list[dict[str, Any]]:
    rows = page.evaluate(GEOMETRY, {p: b for p, b in BOXES.items()})
    assert {r["position"] for r in rows} == expected_positions
    for row in rows:
        # The overlay's outer edge is the image box: one CSS pixel of rounding is allowed.
        assert row["drawn"] == pytest.approx(row["expected"], abs=1.0), row
    return rows


def test_ai_boxes_are_drawn_where_the_model_put_them_at_every_zoom(
    page: Any, web_server: WebServer, tmp_path: Path
) -> None:
    pid, study_id, _ = _predicted_patient(web_server)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, "radiologist", f"/ui/patients/{pid}/viewer?study={study_id}")
    page.wait_for_function(ALL_LOADED, timeout=20_000)
    current = page.get_by_role("region", name="Current")
    assert "AI: detector version 4 · exam score 0.74" in current.locator("h2").inner_text()
    assert current.locator(f"#view-{study_id}-RCC").get_attribute("data-src").endswith("?mirrored=1")
    # Hidden at first: the reader forms an opinion before seeing the model's.
    boxes = current.locator(".ai-box")
    assert boxes.count() == 3 and not boxes.first.is_visible()
    page.get_by_label("Show AI boxes").check()
    assert all(boxes.nth(i).is_visible() for i in range(3))
    assert current.locator(f"#view-{study_id}-RCC .ai-score").inner_text() == "AI 0.83"
    caption = current.locator(f"#view-{study_id}-RCC + figcaption").inner_text()
    assert caption.endswith("AI image score 0.83")
    home = _assert_aligned(page, {"RCC", "LCC", "RMLO"})
    assert any(r["mirrored"] for r in home)
    page.screenshot(path=str(tmp_path / "ai-home.png"))
    # Zoomed in on the mirrored RCC box (linked zoom moves the others too): the boxes follow the image.
    page.evaluate(ZOOM_IN)
    page.wait_for_timeout(500)
    zoomed = _assert_aligned(page, {"RCC", "LCC", "RMLO"})
    assert zoomed[0]["zoom"] > home[0]["zoom"] * 2.5
    page.screenshot(path=str(tmp_path / "ai-zoomed.png"))
    page.get_by_label("Show AI boxes").uncheck()
    assert not any(boxes.nth(i).is_visible() for i in range(3))
    page.get_by_label("Show AI boxes").check()
    assert boxes.first.is_visible()
    # Choosing a study or model keeps the reader's choice to see the boxes.
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_function(ALL_LOADED, timeout=20_000)
    assert "ai_shown=1" in page.url and page.get_by_label("Show AI boxes").is_checked()
    assert current.locator(".ai-box").first.is_visible()
    # A minimum score hides the weaker boxes at once, and the form keeps it.
    page.get_by_label("Minimum AI score").fill("0.7")
    assert [current.locator(".ai-box").nth(i).is_visible() for i in range(3)] == [True, False, False]  # 0.83
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_function(ALL_LOADED, timeout=20_000)
    assert "ai_min=0.7" in page.url and page.get_by_label("Minimum AI score").input_value() == "0.7"
    assert sum(current.locator(".ai-box").nth(i).is_visible() for i in range(3)) == 1
    assert errors == []
    print(f"screenshots: {tmp_path}")


def test_a_study_without_predictions_shows_no_ai_and_no_error(page: Any, web_server: WebServer) -> None:
    with session_scope(web_server.sessions) as session:
        predicted = select(Study.patient_id).join(StudyInference, StudyInference.study_id == Study.id)
        pid = session.scalar(
            select(Study.patient_id).where(Study.patient_id.is_not(None), Study.patient_id.not_in(predicted)).limit(1)
        )
        assert pid is not None, "every patient of the corpus has predictions"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, "radiologist", f"/ui/patients/{pid}/viewer")
    page.wait_for_function(ALL_LOADED, timeout=20_000)
    assert page.locator(".ai-box").count() == 0 and page.get_by_label("Show AI boxes").count() == 0
    assert "AI" not in page.locator(".study h2").first.inner_text() and errors == []


# Each shown AI score tag's page rectangle beside its box's and its viewer's: [left, top, right, bottom].
TAGS = """() => window.sgmViewers.flatMap(v => {
  const el = v.element.closest('.view'), frame = el.getBoundingClientRect();
  return [...el.querySelectorAll('.ai-box')].filter(o => o.offsetWidth > 0).map(o => {
    const r = o.getBoundingClientRect(), t = o.querySelector('.ai-score').getBoundingClientRect();
    return {position: el.dataset.position, frame: [frame.left, frame.top, frame.right, frame.bottom],
      box: [r.left, r.top, r.right, r.bottom], tag: [t.left, t.top, t.right, t.bottom]};
  });
})"""

# Pan the RMLO view so that image row y sits at the viewer's top.
PAN_TO_TOP = """(y) => {
  const v = window.sgmViewers.find(w => w.sgmPosition === 'RMLO');
  const top = v.viewport.imageToViewportCoordinates(new OpenSeadragon.Point(0, y)).y;
  v.viewport.panBy(new OpenSeadragon.Point(0, top - v.viewport.getBounds(true).y), true);
}"""


# Pan the RMLO view sideways so that image column x sits at `at` (0 left, 1 right) of the viewer's width.
PAN_COLUMN_TO = """([x, at]) => {
  const v = window.sgmViewers.find(w => w.sgmPosition === 'RMLO'), b = v.viewport.getBounds(true);
  const column = v.viewport.imageToViewportCoordinates(new OpenSeadragon.Point(x, 0)).x;
  v.viewport.panBy(new OpenSeadragon.Point(column - (b.x + at * b.width), 0), true);
}"""


def _edge_patient(server: WebServer) -> tuple[int, int]:
    """Another patient than _predicted_patient's: its newest study gets boxes touching the image's top edge."""
    with session_scope(server.sessions) as session:
        pid = session.scalar(
            select(Study.patient_id)
            .where(Study.patient_id.is_not(None))
            .group_by(Study.patient_id)
            .order_by(func.count().desc(), Study.patient_id)
            .limit(1)
        )
        study = session.scalars(select(Study).where(Study.patient_id == pid).order_by(Study.study_date.desc())).first()
        assert pid is not None and study is not None
        ids = {
            f"{i.laterality}{i.view}": i.id
            for i in session.scalars(select(Instance).join(Series).where(Series.study_id == study.id))
        }
        boxes = {  # stored pixels of the 96x120 corpus images
            "RCC": {"x_min": 20.0, "y_min": 0.0, "x_max": 60.0, "y_max": 60.0, "score": 0.91, "label": "mass"},
            "LCC": {"x_min": 20.0, "y_min": 0.0, "x_max": 60.0, "y_max": 3.0, "score": 0.42, "label": "mass"},
            "RMLO": {"x_min": 20.0, "y_min": 50.0, "x_max": 60.0, "y_max": 80.0, "score": 0.66, "label": "mass"},
            # Under the viewer's default minimum score (0.1): hidden until the reader lowers it.
            "LMLO": {"x_min": 20.0, "y_min": 50.0, "x_max": 60.0, "y_max": 80.0, "score": 0.04, "label": "mass"},
        }
        preds = [ImagePrediction(ids[p], "0" * 64, [b], b["score"]) for p, b in boxes.items()]
        store_done(session, study.id, "edge-detector", "1", "b" * 64, 0.91, preds)
        return pid, study.id


def test_a_score_tag_without_room_above_its_box_moves_inside_or_below(page: Any, web_server: WebServer) -> None:
    pid, study_id = _edge_patient(web_server)
    sign_in(page, "radiologist")
    page.goto(f"/ui/patients/{pid}/viewer?study={study_id}&prior=0&ai_shown=1")
    page.wait_for_function(ALL_LOADED, timeout=20_000)
    page.wait_for_timeout(300)
    tags = {row["position"]: row for row in page.evaluate(TAGS)}
    assert set(tags) == {"RCC", "LCC", "RMLO"}  # LMLO's 0.04 is under the default minimum score
    assert page.locator(f"#view-{study_id}-LMLO .ai-box").count() == 1
    for row in tags.values():  # never cut off by the viewer's edges
        (fl, ft, fr, fb), (tl, tt, tr, tb) = row["frame"], row["tag"]
        assert fl - 0.5 <= tl and tr <= fr + 0.5 and ft - 0.5 <= tt and tb <= fb + 0.5, row
    # A tall box at the image's top edge: the tag inside its top; a short one there: the tag below it.
    rcc, lcc, rmlo = tags["RCC"], tags["LCC"], tags["RMLO"]
    assert rcc["box"][1] - 0.5 <= rcc["tag"][1] and rcc["tag"][3] <= rcc["box"][3], rcc
    assert lcc["tag"][1] >= lcc["box"][3] - 2.5, lcc  # below, over at most the box's bottom border
    # Room above: the tag stays on top of its box.
    assert rmlo["tag"][3] == pytest.approx(rmlo["box"][1], abs=1.0), rmlo
    assert page.locator(f"#view-{study_id}-RCC .ai-score").inner_text() == "AI 0.91"
    # Panned until the RMLO box meets the viewer's top: its tag follows on the next redraw.
    page.get_by_label("Link zoom").uncheck()
    page.evaluate(PAN_TO_TOP, 50)
    page.wait_for_timeout(300)
    rmlo = next(row for row in page.evaluate(TAGS) if row["position"] == "RMLO")
    assert rmlo["box"][1] == pytest.approx(rmlo["frame"][1], abs=1.0), rmlo
    assert rmlo["box"][1] - 0.5 <= rmlo["tag"][1] and rmlo["tag"][3] <= rmlo["box"][3], rmlo
    # Panned sideways until the box starts at the viewer's right edge, then ends at its left one: the tag
    # slides back inside the viewer, never cut off.
    for column, at in ((20, 0.97), (60, 0.03)):
        page.evaluate(PAN_COLUMN_TO, [column, at])
        page.wait_for_timeout(300)
        rmlo = next(row for row in page.evaluate(TAGS) if row["position"] == "RMLO")
        (fl, _ft, fr, _fb), (tl, _tt, tr, _tb) = rmlo["frame"], rmlo["tag"]
        assert fl - 0.5 <= tl and tr <= fr + 0.5 and tr - tl > 20, rmlo
