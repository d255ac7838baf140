"""Test helpers: ingest the corpus, and turn its ground truth into Label Studio results as a reader would."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.labeling_config import (
    ASSESSMENT,
    ASSESSMENT_SUBTYPE,
    BIRADS,
    BIRADS_SUBTYPE,
    COMPOSITION,
    SAME_LESION,
    box_control,
    region_control,
)
from annotation_ui.reads import box_to_percent
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.dicom.render import PixelMapping, mapping_for
from emr_core.models import Instance, Study
from emr_core.models_annotation import CampaignTask, LabelStudioTask, ReaderAssignment
from emr_core.settings import Settings

ATTRIBUTES = ("mass_shape", "mass_margin", "mass_density", "calc_morphology", "calc_distribution")


@dataclass
class GtFinding:
    finding_id: str
    finding_type: str
    birads: str
    attributes: dict[str, str]
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # view -> DICOM box


@dataclass
class GtSide:
    study_uid: str
    laterality: str
    composition: str
    assessment: str
    findings: list[GtFinding]


def _csv(corpus: Path, name: str) -> list[dict[str, str]]:
    with (corpus / "ground_truth" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ground_truth(corpus: Path) -> dict[tuple[str, str], GtSide]:
    """Ground truth per (study UID, side)."""
    sides = {
        (r["study_uid"], r["laterality"]): GtSide(
            r["study_uid"], r["laterality"], r["composition"], r["assessment"], []
        )
        for r in _csv(corpus, "breasts")
    }
    findings = {}
    for r in _csv(corpus, "findings"):
        f = GtFinding(r["finding_id"], r["finding_type"], r["birads"], {a: r[a] for a in ATTRIBUTES if r[a]})
        findings[r["finding_id"]] = f
        sides[(r["study_uid"], r["laterality"])].findings.append(f)
    for r in _csv(corpus, "boxes"):
        box = float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"])
        findings[r["finding_id"]].boxes[r["view"].lower()] = box
    return sides


def ingest(session_factory: sessionmaker[Session], settings: Settings, corpus: Path) -> list[int]:
    """Ingest the corpus; returns the study ids."""
    ingest_paths(session_factory, settings, [corpus / "dicom"])
    with session_scope(session_factory) as session:
        return list(session.scalars(select(Study.id).order_by(Study.id)))


def _split(category: str) -> tuple[str, list[str]]:
    """'4B' -> ('4', ['B'])."""
    return (category[0], [category[1]]) if len(category) == 2 else (category, [])


def _choice(region_id: str, name: str, to: str, values: list[str]) -> dict[str, Any]:
    return {"id": region_id, "from_name": name, "to_name": to, "type": "choices", "value": {"choices": values}}


def finding_items(
    f: GtFinding,
    mappings: dict[str, PixelMapping],
    prefix: str,
    boxes: dict[str, tuple[float, float, float, float]] | None = None,
) -> list[dict[str, Any]]:
    """A finding drawn on each of its views, described, and linked across views with same_lesion."""
    items, ids = [], {}
    birads, subtype = _split(f.birads)
    for view, box in (boxes or f.boxes).items():
        rid = ids[view] = f"{prefix}{view}"
        m = mappings[view]
        items.append(
            {
                "id": rid,
                "from_name": box_control(view),
                "to_name": view,
                "type": "rectanglelabels",
                "original_width": m.png_width,
                "original_height": m.png_height,
                "image_rotation": 0,
                "value": {**box_to_percent(box, m), "rectanglelabels": [f.finding_type]},
            }
        )
        items.append(_choice(rid, region_control(view, BIRADS), view, [birads]))
        if subtype:
            items.append(_choice(rid, region_control(view, BIRADS_SUBTYPE), view, subtype))
        items += [_choice(rid, region_control(view, a), view, [v]) for a, v in f.attributes.items()]
    if len(ids) == 2:
        items.append(
            {
                "from_id": ids["cc"],
                "to_id": ids["mlo"],
                "type": "relation",
                "direction": "right",
                "labels": [SAME_LESION],
            }
        )
    return items


def side_items(composition: str, assessment: str) -> list[dict[str, Any]]:
    category, subtype = _split(assessment)
    items = [_choice("side-c", COMPOSITION, "cc", [composition]), _choice("side-a", ASSESSMENT, "cc", [category])]
    if subtype:
        items.append(_choice("side-s", ASSESSMENT_SUBTYPE, "cc", subtype))
    return items


def read_result(gt: GtSide, mappings: dict[str, PixelMapping]) -> list[dict[str, Any]]:
    """The ground truth read exactly."""
    items = side_items(gt.composition, gt.assessment)
    for k, f in enumerate(gt.findings):
        items += finding_items(f, mappings, f"f{k}")
    return items


@dataclass(frozen=True)
class LsTask:
    """A reader's Label Studio task with what it shows."""

    ls_task_id: int
    campaign_task_id: int
    position: int
    gt: GtSide
    mappings: dict[str, PixelMapping]


def reader_tasks(
    session: Session, role: str, campaign_id: int, gt: dict[tuple[str, str], GtSide], long_side: int = 1024
) -> list[LsTask]:
    """One reader's tasks in their reading order."""
    query = (
        select(LabelStudioTask, CampaignTask, Study.study_uid)
        .join(ReaderAssignment, ReaderAssignment.id == LabelStudioTask.assignment_id)
        .join(CampaignTask, CampaignTask.id == LabelStudioTask.campaign_task_id)
        .join(Study, Study.id == CampaignTask.study_id)
        .where(ReaderAssignment.campaign_id == campaign_id, ReaderAssignment.role == role)
        .order_by(LabelStudioTask.position)
    )
    out = []
    for ls_task, task, study_uid in session.execute(query):
        cc, mlo = session.get_one(Instance, task.cc_instance_id), session.get_one(Instance, task.mlo_instance_id)
        mappings = {
            "cc": mapping_for(int(cc.columns or 0), int(cc.rows or 0), long_side),
            "mlo": mapping_for(int(mlo.columns or 0), int(mlo.rows or 0), long_side),
        }
        out.append(LsTask(ls_task.ls_task_id, task.id, ls_task.position, gt[(study_uid, task.laterality)], mappings))
    return out
