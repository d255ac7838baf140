"""Pandas frames built from the EMR for the quality suites, scoped to what one run produced."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, func, select, true
from sqlalchemy.orm import Session

from emr_core.models import Instance, InstanceConflict, LinkDecision, Series, Study, utcnow
from emr_core.models_annotation import CampaignTask, ConsolidatedFinding, ConsolidatedRead
from emr_core.objectstore import open_at
from quality.headers import header_fields

FOUR_VIEWS = frozenset({("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")})
BOX_VIEWS = ("cc", "mlo")
BOX_EDGES = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class Scope:
    """What a check judges: rows received in [since, until) and/or of these studies; empty means all."""

    since: datetime | None = None
    until: datetime | None = None
    study_ids: Collection[int] | None = None


def images_frame(session: Session, root: Path, scope: Scope = Scope()) -> pd.DataFrame:
    """One row per stored instance in scope, plus one per conflicting copy of it (same SOP UID, other bytes)."""
    conflicts = _scoped_conflicts(session, scope)
    rows = [_instance_row(inst, study, root) for inst, study in _scoped_instances(session, scope, list(conflicts))]
    rows += [
        {**row, "copy": "conflict", "stored_path": path}
        for row in rows
        for path in conflicts.get(row["sop_instance_uid"], ())
    ]
    frame = pd.DataFrame(rows, columns=_IMAGE_COLUMNS)
    views = _study_views(session, set(frame["study_id"]))
    frame["exam_views"] = frame["study_id"].map(lambda s: ", ".join(sorted(a + b for a, b in views.get(s, set()))))
    frame["exam_complete"] = frame["study_id"].map(lambda s: views.get(s, set()) >= FOUR_VIEWS)
    return frame


_IMAGE_COLUMNS = [
    "instance_id", "sop_instance_uid", "study_id", "study_uid", "sop_class_uid", "modality", "laterality",
    "laterality_source", "view", "view_source", "pixel_spacing_row", "pixel_spacing_col", "rows", "columns",
    "received_at", "stored_path", "copy", "header_readable", "presentation_intent", "burned_in_annotation",
    "header_lateralities", "header_views",
]  # fmt: skip


def _instance_query() -> Select[Instance, Study]:
    return (
        select(Instance, Study)
        .join(Series, Series.id == Instance.series_id)
        .join(Study, Study.id == Series.study_id)
        .order_by(Instance.id)
    )


def _scoped_instances(session: Session, scope: Scope, conflicting: list[str]) -> list[tuple[Instance, Study]]:
    """Instances in scope and those with a conflicting copy, in id order.

    Two queries, not one with an OR: an OR across the two tables made MariaDB scan every study of the
    archive for a nightly scope of 1,000 new ones (measured by bench/scale.py's plans).
    """
    found = {inst.id: (inst, study) for inst, study in session.execute(_instance_query().where(_instance_scope(scope)))}
    if conflicting:
        query = _instance_query().where(Instance.sop_instance_uid.in_(conflicting))
        for inst, study in session.execute(query):
            found.setdefault(inst.id, (inst, study))
    return [found[key] for key in sorted(found)]


def _instance_scope(scope: Scope) -> Any:
    conditions = []
    if scope.since is not None:
        conditions.append(Instance.received_at >= scope.since)
    if scope.until is not None:
        conditions.append(Instance.received_at < scope.until)
    if scope.study_ids is not None:
        conditions.append(Study.id.in_(list(scope.study_ids)))
    return _all(conditions)


def _all(conditions: list[Any]) -> Any:
    return and_(true(), *conditions)


def _scoped_conflicts(session: Session, scope: Scope) -> dict[str, list[str]]:
    """SOP UID -> paths of other copies that arrived in the window (by detection time)."""
    query = select(InstanceConflict.sop_instance_uid, InstanceConflict.kept_path)
    if scope.since is not None:
        query = query.where(InstanceConflict.detected_at >= scope.since)
    if scope.until is not None:
        query = query.where(InstanceConflict.detected_at < scope.until)
    found: dict[str, list[str]] = {}
    for sop, path in session.execute(query):
        found.setdefault(sop, []).append(path)
    return found


def _stored_header_fields(root: Path, stored_path: str) -> dict[str, Any]:
    """header_fields of a stored object, read by ranges when it lives in S3."""
    try:
        with open_at(root, stored_path) as fp:
            return header_fields(fp)
    except OSError:  # missing or unreachable: the header cannot be checked
        return {"header_readable": False}


def _instance_row(inst: Instance, study: Study, root: Path) -> dict[str, Any]:
    return {
        "instance_id": inst.id,
        "sop_instance_uid": inst.sop_instance_uid,
        "study_id": study.id,
        "study_uid": study.study_uid,
        "sop_class_uid": inst.sop_class_uid,
        "modality": inst.modality,
        "laterality": inst.laterality,
        "laterality_source": inst.laterality_source,
        "view": inst.view,
        "view_source": inst.view_source,
        "pixel_spacing_row": inst.pixel_spacing_row,
        "pixel_spacing_col": inst.pixel_spacing_col,
        "rows": inst.rows,
        "columns": inst.columns,
        "received_at": inst.received_at,
        "stored_path": inst.stored_path,
        "copy": "stored",
        **_stored_header_fields(root, inst.stored_path),
    }


def _study_views(session: Session, study_ids: set[int]) -> dict[int, set[tuple[str, str]]]:
    """(laterality, view) pairs held for each study, over all its instances, not only the scoped ones."""
    query = (
        select(Series.study_id, Instance.laterality, Instance.view)
        .join(Series, Series.id == Instance.series_id)
        .where(Series.study_id.in_([int(s) for s in study_ids]))
    )
    views: dict[int, set[tuple[str, str]]] = {}
    for study_id, laterality, view in session.execute(query):
        if laterality and view:
            views.setdefault(study_id, set()).add((laterality, view))
    return views


def waiting_studies_frame(session: Session, now: datetime | None = None) -> pd.DataFrame:
    """One row per study waiting unlinked or for review, with the days it has waited.

    Only these: linked studies cannot fail the linking suite (they wait for nothing), and reading all
    500,000 of them each night made the gate's cost grow with the archive, not with the night's work.
    Two queries, each on an index (decision status, study patient), rather than one OR across both tables.
    """
    now = now or utcnow()
    current = and_(LinkDecision.study_id == Study.id, LinkDecision.is_current.is_(True))
    columns = select(
        Study.id,
        Study.study_uid,
        Study.patient_id,
        Study.created_at,
        LinkDecision.status,
        LinkDecision.method,
        LinkDecision.decided_at,
        LinkDecision.id.label("decision_id"),
    )
    in_review = columns.join(LinkDecision, current).where(LinkDecision.status == "review")
    unlinked = columns.outerjoin(LinkDecision, current).where(Study.patient_id.is_(None))
    found = [*session.execute(in_review), *session.execute(unlinked)]
    found.sort(key=lambda row: (row.id, row.decision_id or 0))
    rows = {row.id: row for row in found}  # the newest current decision, should there be two
    return pd.DataFrame([_study_row(row, now) for row in rows.values()], columns=_STUDY_COLUMNS)


def count_studies(session: Session) -> int:
    """How many studies the EMR holds."""
    return int(session.scalar(select(func.count()).select_from(Study)) or 0)


_STUDY_COLUMNS = ["study_id", "study_uid", "patient_id", "link_state", "link_method", "waiting_since", "waiting_days"]


def _study_row(row: Any, now: datetime) -> dict[str, Any]:
    if row.status == "review":
        state, since = "review", row.decided_at
    elif row.patient_id is None:
        state, since = "unlinked", row.created_at
    else:
        state, since = "linked", None
    return {
        "study_id": row.id,
        "study_uid": row.study_uid,
        "patient_id": row.patient_id,
        "link_state": state,
        "link_method": row.method,
        "waiting_since": since,
        # Null for linked studies: GX range expectations skip nulls, so only waiting studies are judged.
        "waiting_days": (now - since).total_seconds() / 86400 if since else None,
    }


def findings_frame(session: Session, scope: Scope = Scope()) -> pd.DataFrame:
    """One row per consolidated finding, and one per consolidated breast side without findings.

    Each row carries the side's composition and assessment, the finding's attributes as
    columns, and for each view its box, the image size and the image's laterality and view.
    """
    query = (
        select(ConsolidatedRead, ConsolidatedFinding, Study.study_uid)
        .outerjoin(ConsolidatedFinding, ConsolidatedFinding.campaign_task_id == ConsolidatedRead.campaign_task_id)
        .join(CampaignTask, CampaignTask.id == ConsolidatedRead.campaign_task_id)
        .join(Study, Study.id == CampaignTask.study_id)
        .order_by(ConsolidatedRead.id, ConsolidatedFinding.id)
    )
    if scope.study_ids is not None:
        query = query.where(Study.id.in_(list(scope.study_ids)))
    if scope.since is not None or scope.until is not None:
        query = query.where(_consolidated_window(scope))
    rows = [_finding_row(read, finding, study_uid) for read, finding, study_uid in session.execute(query)]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=_FINDING_BASE)
    return _with_images(session, frame)


_FINDING_BASE = [
    "study_uid", "laterality", "finding_uid", "composition", "assessment", "finding_type", "birads",
    *[f"{v}_{e}" for v in BOX_VIEWS for e in ("instance_id", *BOX_EDGES, "rows", "columns", "laterality", "view")],
]  # fmt: skip


def _consolidated_window(scope: Scope) -> Any:
    conditions = []
    if scope.since is not None:
        conditions.append(ConsolidatedRead.consolidated_at >= scope.since)
    if scope.until is not None:
        conditions.append(ConsolidatedRead.consolidated_at < scope.until)
    return _all(conditions)


def _finding_row(read: ConsolidatedRead, finding: ConsolidatedFinding | None, study_uid: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "study_uid": study_uid,
        "campaign_task_id": read.campaign_task_id,
        "composition": read.composition,
        "assessment": read.assessment,
    }
    if finding is None:
        return row
    row.update(
        laterality=finding.laterality,
        finding_uid=finding.finding_uid,
        finding_type=finding.finding_type,
        birads=finding.birads,
        **{f"attr_{k}": v for k, v in (finding.attributes or {}).items()},
    )
    for view in BOX_VIEWS:
        row[f"{view}_instance_id"] = getattr(finding, f"{view}_instance_id")
        row.update({f"{view}_{e}": getattr(finding, f"{view}_{e}") for e in BOX_EDGES})
    return row


def _with_images(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    """Add each box's image size, laterality and view, and the side's laterality for rows without findings."""
    for column in _FINDING_BASE:
        if column not in frame.columns:
            frame[column] = None
    ids = {int(i) for v in BOX_VIEWS for i in frame[f"{v}_instance_id"].dropna()}
    images = {i.id: i for i in session.scalars(select(Instance).where(Instance.id.in_(list(ids))))}
    for view in BOX_VIEWS:
        for field in ("rows", "columns", "laterality", "view"):
            frame[f"{view}_{field}"] = frame[f"{view}_instance_id"].map(
                lambda i, f=field: getattr(images[int(i)], f) if pd.notna(i) and int(i) in images else None
            )
    sides = dict(
        session.execute(
            select(CampaignTask.id, CampaignTask.laterality).where(
                CampaignTask.id.in_([int(t) for t in frame["campaign_task_id"]])
            )
        ).all()
    )
    frame["laterality"] = frame["laterality"].fillna(frame["campaign_task_id"].map(sides))
    return frame
