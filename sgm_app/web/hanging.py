"""The mammography hanging: which image goes where, mirrored so the chest walls face each other, with findings
and, when a model run is chosen, its predicted boxes placed the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.contract import PredictedBox
from emr_core.dicom.render import cached_render
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import ConsolidatedFinding
from emr_core.objectstore import open_stored
from emr_core.settings import Settings
from sgm_models.predictions import DoneRun, run_boxes

HANGING = ("RCC", "LCC", "RMLO", "LMLO")  # top row CC, bottom row MLO; the right breast on the viewer's left


@dataclass
class View:
    """One hung image: where to fetch it (full resolution, mirrored when needed) and its finding boxes."""

    position: str
    sop_instance_uid: str
    columns: int
    rows: int
    mirrored: bool
    boxes: list[dict[str, Any]] = field(default_factory=list)
    ai_boxes: list[dict[str, Any]] = field(default_factory=list)
    ai_score: float | None = None  # the model's score for this image, when a run is shown


def chest_wall_on_left(settings: Settings, stored_path: str) -> bool | None:
    """From Patient Orientation (0020,0020): the row direction pointing anterior means the chest wall is at column 0."""
    try:
        # Only the header is read: from S3, a few ranged reads rather than the whole image.
        with open_stored(settings, stored_path) as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=["PatientOrientation"])
        first = str(ds.PatientOrientation[0]).upper()
    except (OSError, AttributeError, IndexError, KeyError, pydicom.errors.InvalidDicomError):
        return None
    return {"A": True, "P": False}.get(first[:1])


def needs_mirroring(laterality: str, chest_left: bool | None) -> bool:
    """Right breasts hang with the chest wall at their right edge, left breasts at their left edge."""
    if chest_left is None:
        return False  # unknown orientation: shown as stored
    return chest_left if laterality == "R" else not chest_left


def _boxes(session: Session, study_id: int) -> dict[int, list[dict[str, Any]]]:
    """instance id -> finding boxes in DICOM pixel coordinates."""
    out: dict[int, list[dict[str, Any]]] = {}
    for f in session.scalars(select(ConsolidatedFinding).where(ConsolidatedFinding.study_id == study_id)):
        label = f"{f.finding_type} · BI-RADS {f.birads}"
        for view in ("cc", "mlo"):
            iid = getattr(f, f"{view}_instance_id")
            box = [getattr(f, f"{view}_{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
            if iid is not None and None not in box:
                out.setdefault(iid, []).append({"box": box, "label": label, "source": f.source})
    return out


def _placed(box: list[float], columns: int, mirrored: bool) -> list[float]:
    xmin, ymin, xmax, ymax = box
    if mirrored:
        xmin, xmax = columns - xmax, columns - xmin
    # Viewer coordinates: the image is 1 wide, so every value is divided by the width.
    return [xmin / columns, ymin / columns, (xmax - xmin) / columns, (ymax - ymin) / columns]


def _ai_box(box: PredictedBox, columns: int, mirrored: bool, run: DoneRun) -> dict[str, Any]:
    """A predicted box placed like a finding, labelled with its score and titled with the model that drew it."""
    parts = [f"{run.model_name} {run.model_version}", box.label, f"{box.score:.2f}"]
    rect = _placed([box.x_min, box.y_min, box.x_max, box.y_max], columns, mirrored)
    title = " · ".join(p for p in parts if p)
    return {"rect": rect, "label": f"AI {box.score:.2f}", "title": title, "score": box.score}


def _with_predictions(view: View, predicted: tuple[float, list[PredictedBox]] | None, run: DoneRun) -> View:
    if predicted is not None:
        score, boxes = predicted
        view.ai_score = score if math.isfinite(score) else None
        view.ai_boxes = [_ai_box(b, view.columns, view.mirrored, run) for b in boxes]
    return view


def study_views(session: Session, settings: Settings, study_id: int, run: DoneRun | None = None) -> list[View]:
    """The study's four standard views in hanging order (missing ones are left out), with the run's boxes if given."""
    rows = session.execute(
        select(Instance)
        .join(Series, Series.id == Instance.series_id)
        .where(Series.study_id == study_id, Instance.laterality.is_not(None))
        .order_by(Instance.id)
    ).scalars()
    chosen: dict[str, Instance] = {}
    for inst in rows:
        chosen.setdefault(f"{inst.laterality}{inst.view}", inst)
    boxes = _boxes(session, study_id)
    predicted = run_boxes(session, run.id) if run else {}
    views = []
    for position in HANGING:
        hung = chosen.get(position)
        if hung is None or not hung.columns or not hung.rows:
            continue
        mirrored = needs_mirroring(position[0], chest_wall_on_left(settings, hung.stored_path))
        view = View(position, hung.sop_instance_uid, hung.columns, hung.rows, mirrored)
        view.boxes = [{**b, "rect": _placed(b["box"], hung.columns, mirrored)} for b in boxes.get(hung.id, [])]
        views.append(_with_predictions(view, predicted.get(hung.id), run) if run else view)
    return views


def full_resolution_png(settings: Settings, sop: str, stored_path: str, long_side: int, mirrored: bool) -> Path:
    """The full-resolution render, mirrored left-right when asked (cached beside the plain one)."""
    plain = cached_render(settings, sop, stored_path, long_side)
    if not mirrored:
        return plain
    target = plain.with_name(f"{plain.stem}-mirrored.png")
    if not target.exists():
        with Image.open(plain) as image:
            tmp = target.with_suffix(".tmp")
            image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp, format="PNG", compress_level=1)
            tmp.replace(target)
    return target


def patient_studies(session: Session, patient_id: int) -> list[Study]:
    return list(
        session.scalars(select(Study).where(Study.patient_id == patient_id).order_by(Study.study_date.desc(), Study.id))
    )


def chosen_runs(runs: dict[int, list[DoneRun]], current: int | None, wanted: int | None) -> dict[int, DoneRun]:
    """Per study the run to draw: the asked-for one (its model version on a prior), else the newest successful one."""
    asked = next((r for r in runs.get(current or 0, []) if r.id == wanted), None)
    chosen = {}
    for study_id, done in runs.items():
        same = [r for r in done if asked and (r.model_name, r.model_version) == (asked.model_name, asked.model_version)]
        if same or done:
            chosen[study_id] = (same or done)[0]
    return chosen
