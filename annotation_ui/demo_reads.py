"""SIMULATED demo reads: the synthetic corpus's ground truth, read into Label Studio by the demo readers.

Only for `make run`'s demo: a fresh platform has no reads, so nothing is agreed or adjudicated and no
dataset can be exported. Each reader submits with their own token, as they would in Label Studio, so
blinding, validation and consolidation treat these reads like any other. A deterministic share of
sides gets a different read from reader 2, so the demo also exercises adjudication; the adjudicator
then reads the ground truth. Every submission is audited as simulated.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaign_context import load_context
from annotation_ui.campaigns import BLIND_ROLES, campaign_by_name
from annotation_ui.client import LabelStudioClient
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
from annotation_ui.schema import Schema
from annotation_ui.schemes import scheme_named
from annotation_ui.validation import validate_result
from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.dicom.render import PixelMapping
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Study
from emr_core.models_annotation import AnnotationReader, LabelStudioTask
from emr_core.vocabulary.birads import Composition

ATTRIBUTES = ("mass_shape", "mass_margin", "mass_density", "calc_morphology", "calc_distribution")
COMPOSITIONS = tuple(c.value for c in Composition)
SIMULATED = "simulated demo read"
Box = tuple[float, float, float, float]


class DemoReadsError(ValueError):
    """The demo reads cannot be made (no ground truth, a token that is not the assigned reader, ...)."""


@dataclass
class GtFinding:
    finding_id: str
    finding_type: str
    birads: str
    attributes: dict[str, str]
    boxes: dict[str, Box] = field(default_factory=dict)  # view -> DICOM pixel box


@dataclass
class GtSide:
    study_uid: str
    laterality: str
    composition: str
    assessment: str
    findings: list[GtFinding] = field(default_factory=list)


@dataclass
class DemoReadsReport:
    """Annotations submitted per role, and what was already there or had no ground truth."""

    submitted: dict[str, int] = field(default_factory=dict)
    already_read: int = 0
    without_truth: int = 0
    disagreements: int = 0


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise DemoReadsError(f"{path}: not found; give the ground_truth folder of `sgm demo-data`")
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_ground_truth(folder: Path) -> dict[tuple[str, str], GtSide]:
    """The corpus's ground truth per (study UID, side), from OUT/ground_truth of `sgm demo-data`."""
    sides = {
        (r["study_uid"], r["laterality"]): GtSide(r["study_uid"], r["laterality"], r["composition"], r["assessment"])
        for r in _csv(folder, "breasts")
    }
    findings = {}
    for r in _csv(folder, "findings"):
        attributes = {a: r[a] for a in ATTRIBUTES if r.get(a)}
        finding = GtFinding(r["finding_id"], r["finding_type"], r["birads"], attributes)
        findings[r["finding_id"]] = finding
        sides[(r["study_uid"], r["laterality"])].findings.append(finding)
    for r in _csv(folder, "boxes"):
        box = float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"])
        findings[r["finding_id"]].boxes[r["view"].lower()] = box
    return sides


def _split(category: str) -> tuple[str, list[str]]:
    """'4B' -> ('4', ['B'])."""
    return (category[0], [category[1]]) if len(category) == 2 else (category, [])


def _choice(region_id: str, name: str, to: str, values: list[str]) -> dict[str, Any]:
    return {"id": region_id, "from_name": name, "to_name": to, "type": "choices", "value": {"choices": values}}


def _rectangle(region_id: str, view: str, box: Box, mapping: PixelMapping, label: str) -> dict[str, Any]:
    return {
        "id": region_id,
        "from_name": box_control(view),
        "to_name": view,
        "type": "rectanglelabels",
        "original_width": mapping.png_width,
        "original_height": mapping.png_height,
        "image_rotation": 0,
        "value": {**box_to_percent(box, mapping), "rectanglelabels": [label]},
    }


def finding_items(
    finding: GtFinding, mappings: dict[str, PixelMapping], prefix: str, boxes: dict[str, Box] | None = None
) -> list[dict[str, Any]]:
    """A finding drawn on each of its views (or at `boxes`), described, and linked across views with same_lesion."""
    items, ids = [], {}
    birads, subtype = _split(finding.birads)
    for view, box in (finding.boxes if boxes is None else boxes).items():
        rid = ids[view] = f"{prefix}{view}"
        items.append(_rectangle(rid, view, box, mappings[view], finding.finding_type))
        items.append(_choice(rid, region_control(view, BIRADS), view, [birads]))
        if subtype:
            items.append(_choice(rid, region_control(view, BIRADS_SUBTYPE), view, subtype))
        items += [_choice(rid, region_control(view, a), view, [v]) for a, v in finding.attributes.items()]
    if len(ids) == 2:
        link = {"from_id": ids["cc"], "to_id": ids["mlo"], "type": "relation", "direction": "right"}
        items.append({**link, "labels": [SAME_LESION]})
    return items


def side_items(composition: str, assessment: str) -> list[dict[str, Any]]:
    category, subtype = _split(assessment)
    items = [_choice("side-c", COMPOSITION, "cc", [composition]), _choice("side-a", ASSESSMENT, "cc", [category])]
    if subtype:
        items.append(_choice("side-s", ASSESSMENT_SUBTYPE, "cc", subtype))
    return items


def read_result(gt: GtSide, mappings: dict[str, PixelMapping], composition: str | None = None) -> list[dict[str, Any]]:
    """The ground truth read exactly, in the labeling config's result format (optionally another density)."""
    items = side_items(composition or gt.composition, gt.assessment)
    for k, finding in enumerate(gt.findings):
        items += finding_items(finding, mappings, f"f{k}")
    return items


def disagrees(seed: int, campaign_task_id: int, share: float) -> bool:
    """Whether reader 2 reads this side differently: a stable draw per (campaign seed, side)."""
    digest = hashlib.sha256(f"{seed}:demo-disagreement:{campaign_task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def other_composition(composition: str) -> str:
    """A neighbouring breast density category: the commonest disagreement between two readers."""
    k = COMPOSITIONS.index(composition) if composition in COMPOSITIONS else 0
    return COMPOSITIONS[k + 1] if k + 1 < len(COMPOSITIONS) else COMPOSITIONS[k - 1]


@dataclass(frozen=True)
class _Side:
    """One task in one reader's project, with what the reader should answer."""

    ls_task_id: int
    campaign_task_id: int
    truth: GtSide | None
    mappings: dict[str, PixelMapping]
    sizes: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class _Plan:
    seed: int
    schema: Schema
    roles: list[_Role]


@dataclass(frozen=True)
class _Role:
    role: str
    email: str
    ls_user_id: int
    sides: tuple[_Side, ...]


def _plan(session: Session, campaign_name: str, truth: dict[tuple[str, str], GtSide]) -> _Plan:
    """The campaign's seed and schema and, per role, the reader and their tasks in reading order."""
    campaign = campaign_by_name(session, campaign_name)
    ctx = load_context(session, campaign)
    study_ids = {t.study_id for t in ctx.tasks.values()}
    study_uids = dict(session.execute(select(Study.id, Study.study_uid).where(Study.id.in_(study_ids))).all())
    roles = []
    for role in (r for r in scheme_named(campaign.scheme).roles if r in ctx.assignments):
        assignment = ctx.assignments[role]
        reader = session.get_one(AnnotationReader, assignment.reader_id)
        rows = session.execute(
            select(LabelStudioTask.ls_task_id, LabelStudioTask.campaign_task_id)
            .where(LabelStudioTask.assignment_id == assignment.id)
            .order_by(LabelStudioTask.position)
        ).all()
        sides = []
        for ls_task_id, task_id in rows:
            task, mappings = ctx.tasks[task_id], ctx.mappings[task_id]
            sizes = {v: (m.png_width, m.png_height) for v, m in mappings.items()}
            side_truth = truth.get((study_uids[task.study_id], task.laterality))
            sides.append(_Side(ls_task_id, task_id, side_truth, mappings, sizes))
        roles.append(_Role(role, reader.email, reader.ls_user_id, tuple(sides)))
    return _Plan(campaign.seed, ctx.schema, roles)


def _reader_client(admin: LabelStudioClient, role: _Role, tokens: dict[str, str]) -> LabelStudioClient:
    """The reader's own client; refuses a token that belongs to someone else (that would break blinding)."""
    token = tokens.get(role.email)
    if not token:
        raise DemoReadsError(f"no Label Studio token for {role.email} ({role.role}) in the token file")
    client = admin.as_user(token)
    if int(client.whoami()["id"]) != role.ls_user_id:
        raise DemoReadsError(f"the token given for {role.email} belongs to another Label Studio user")
    return client


def _result_for(role: str, side: _Side, seed: int, share: float) -> tuple[list[dict[str, Any]], bool]:
    """What this reader answers on this side, and whether it is the planted disagreement."""
    assert side.truth is not None
    if role == BLIND_ROLES[1] and disagrees(seed, side.campaign_task_id, share):
        return read_result(side.truth, side.mappings, other_composition(side.truth.composition)), True
    return read_result(side.truth, side.mappings), False


def _read_as(client: LabelStudioClient, role: _Role, plan: _Plan, share: float, report: DemoReadsReport) -> int:
    """Submit this reader's reads on every side they have not read yet; returns how many were submitted."""
    submitted = 0
    for side in role.sides:
        if side.truth is None:
            report.without_truth += 1
            continue
        if any(int(a.get("completed_by") or 0) == role.ls_user_id for a in client.task_annotations(side.ls_task_id)):
            report.already_read += 1
            continue
        result, planted = _result_for(role.role, side, plan.seed, share)
        problems = validate_result(result, plan.schema, side.sizes)
        if problems:  # our own conversion is wrong: say so rather than feed consolidation a rejected read
            raise DemoReadsError(f"simulated read of side {side.campaign_task_id} is invalid: {problems[0]}")
        client.create_annotation(side.ls_task_id, result)
        submitted, report.disagreements = submitted + 1, report.disagreements + planted
    return submitted


def submit_demo_reads(
    session_factory: sessionmaker[Session],
    admin: LabelStudioClient,
    campaign_name: str,
    truth: dict[tuple[str, str], GtSide],
    tokens: dict[str, str],
    disagreement_share: float = 0.3,
    by: str = "",
) -> DemoReadsReport:
    """Each demo reader reads their pending tasks (the adjudicator: the sides queued for adjudication so far).

    Idempotent: a side the reader already annotated is left alone.
    """
    with session_scope(session_factory) as session:
        plan = _plan(session, campaign_name, truth)
    report = DemoReadsReport()
    for role in plan.roles:
        client = _reader_client(admin, role, tokens)
        report.submitted[role.role] = _read_as(client, role, plan, disagreement_share, report)
    with session_scope(session_factory) as session:
        for role in plan.roles:
            record_event(session, _audit(campaign_name, role, report.submitted[role.role], by))
    return report


def _audit(campaign_name: str, role: _Role, count: int, by: str) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.APPLICATION_ACTIVITY,
        action=AuditAction.CREATE,
        event_type="annotation.simulated_demo_reads",
        user_id=by,
        detail={"simulated": True, "what": SIMULATED, "campaign": campaign_name, "reader": role.email,
                "role": role.role, "annotations": count},
    )  # fmt: skip
