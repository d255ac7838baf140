"""AI pre-annotations: a model version's stored boxes pushed as Label Studio predictions, only where a reading
scheme lets the reader see them (every other project of the campaign is set not to show predictions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from annotation_ui.campaign_context import CampaignContext, load_context
from annotation_ui.campaigns import campaign_by_name
from annotation_ui.client import LabelStudioClient
from annotation_ui.labeling_config import box_control
from annotation_ui.reads import box_to_percent
from annotation_ui.schemes import READING, scheme_named
from emr_core.audit import AuditRecord, record_event
from emr_core.dicom.render import PixelMapping
from emr_core.enums import AuditAction, AuditEventId, InferenceStatus
from emr_core.models_annotation import AnnotationCampaign
from emr_core.models_ml import ModelPrediction, StudyInference


class PreannotationError(ValueError):
    """Predictions cannot be pushed as asked (a scheme that hides them, a model that never ran); says why."""


@dataclass(frozen=True)
class PushReport:
    model_version: str  # as Label Studio shows it: NAME:VERSION
    created: int
    already_there: int
    without_inference: int
    projects: tuple[int, ...]


def model_tag(model_name: str, model_version: str) -> str:
    return f"{model_name}:{model_version}"


def _label(raw: str, finding_types: tuple[str, ...]) -> str:
    """The model's label when the campaign's schema knows it, else the schema's first finding type."""
    return raw if raw in finding_types else finding_types[0]


def prediction_result(
    boxes: dict[str, list[dict[str, Any]]], mappings: dict[str, PixelMapping], finding_types: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Label Studio rectangles (percent of the rendered image) for the boxes of each view (DICOM pixels)."""
    items = []
    for view, view_boxes in boxes.items():
        m = mappings[view]
        for k, b in enumerate(view_boxes):
            try:
                box = (float(b["x_min"]), float(b["y_min"]), float(b["x_max"]), float(b["y_max"]))
                score = float(b.get("score", 0.0))
            except (KeyError, TypeError, ValueError):
                continue  # a box a database writer damaged (stored ones passed the model contract): not shown
            label = _label(str(b.get("label")), finding_types)
            items.append(
                {
                    "id": f"ai-{view}-{k}",
                    "from_name": box_control(view),
                    "to_name": view,
                    "type": "rectanglelabels",
                    "original_width": m.png_width,
                    "original_height": m.png_height,
                    "image_rotation": 0,
                    "score": score,
                    "value": {**box_to_percent(box, m), "rectanglelabels": [label]},
                }
            )
    return items


def _boxes_by_instance(session: Session, ctx: CampaignContext, name: str, version: str) -> dict[int, Any]:
    """Instance id -> (boxes, exam score) of this model version, for the campaign's studies it ran on."""
    studies = {t.study_id for t in ctx.tasks.values()}
    rows = session.execute(
        select(ModelPrediction.instance_id, type_coerce(ModelPrediction.boxes, Text), StudyInference.exam_score)
        .join(StudyInference, StudyInference.id == ModelPrediction.study_inference_id)
        .where(
            StudyInference.study_id.in_(studies),
            StudyInference.model_name == name,
            StudyInference.model_version == version,
            StudyInference.status == InferenceStatus.DONE.value,
        )
    )
    return {i: (stored_box_list(text), score) for i, text, score in rows}


def stored_box_list(text: str | None) -> list[Any]:
    """The stored boxes column (read as text: invalid JSON a database writer left must not stop the push)."""
    try:
        boxes = json.loads(text or "[]")
    except ValueError:
        return []
    return [b for b in boxes if isinstance(b, dict)] if isinstance(boxes, list) else []


def _showing_projects(ctx: CampaignContext) -> tuple[list[int], list[int]]:
    """(projects whose reader may see predictions, every other project of the campaign)."""
    scheme = scheme_named(ctx.campaign.scheme)
    shown = [a.ls_project_id for r, a in ctx.assignments.items() if r in scheme.shows_predictions]
    hidden = [a.ls_project_id for a in ctx.assignments.values() if a.ls_project_id not in shown]
    if not shown:
        raise PreannotationError(
            f"campaign {ctx.campaign.name!r} is read under {scheme.name!r}, whose readers may not see model "
            "predictions: nothing pushed"
        )
    return shown, hidden


def push_predictions(
    session: Session, admin: LabelStudioClient, campaign_name: str, model_name: str, model_version: str
) -> PushReport:
    """Push the model version's boxes of the campaign's studies as predictions (once per task) into the projects
    whose scheme role may see them, show them there, and make sure no other project shows predictions."""
    ctx = load_context(session, campaign_by_name(session, campaign_name))
    shown, hidden = _showing_projects(ctx)
    tag = model_tag(model_name, model_version)
    stored = _boxes_by_instance(session, ctx, model_name, model_version)
    if not stored:
        raise PreannotationError(f"model {tag} has no predictions on the studies of campaign {campaign_name!r}")
    for project_id in hidden:
        admin.update_project(project_id, show_collab_predictions=False)
    counts = {"created": 0, "already": 0, "missing": 0}
    by_assignment = {a.id: a.ls_project_id for a in ctx.assignments.values()}
    for project_id in shown:
        existing = admin.prediction_versions(project_id)
        for ls_task, (assignment_id, task_id) in sorted(ctx.ls_tasks.items()):
            if by_assignment[assignment_id] != project_id:
                continue
            _push_task(admin, ctx, stored, (ls_task, task_id, tag), existing, counts)
        if counts["created"] or counts["already"]:
            admin.update_project(project_id, show_collab_predictions=True, model_version=tag)
    _audit(session, campaign_name, tag, counts, shown)
    return PushReport(tag, counts["created"], counts["already"], counts["missing"], tuple(shown))


def _push_task(
    admin: LabelStudioClient,
    ctx: CampaignContext,
    stored: dict[int, Any],
    target: tuple[int, int, str],
    existing: dict[int, set[str]],
    counts: dict[str, int],
) -> None:
    ls_task, task_id, tag = target
    task = ctx.tasks[task_id]
    views = {"cc": task.cc_instance_id, "mlo": task.mlo_instance_id}
    if any(i not in stored for i in views.values()):
        counts["missing"] += 1
        return
    if tag in existing.get(ls_task, set()):
        counts["already"] += 1  # idempotent: a re-push does not duplicate
        return
    boxes = {view: stored[i][0] for view, i in views.items()}
    result = prediction_result(boxes, ctx.mappings[task_id], ctx.schema.finding_types)
    score = stored[task.cc_instance_id][1]
    admin.create_prediction(ls_task, result, tag, None if score is None else float(score))
    counts["created"] += 1


def _audit(session: Session, campaign: str, tag: str, counts: dict[str, int], projects: list[int]) -> None:
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.APPLICATION_ACTIVITY,
            action=AuditAction.CREATE,
            event_type="annotation.predictions_pushed",
            detail={"campaign": campaign, "model_version": tag, "projects": projects, **counts},
        ),
    )


def push_to_reading_campaigns(
    session: Session, admin: LabelStudioClient, model_name: str, model_version: str
) -> tuple[dict[str, PushReport], dict[str, str]]:
    """Push the version's predictions into every campaign still in its reading phase under a scheme that shows
    them: (reports by campaign, why each other such campaign got nothing)."""
    query = select(AnnotationCampaign).where(AnnotationCampaign.phase == READING).order_by(AnnotationCampaign.name)
    pushed: dict[str, PushReport] = {}
    skipped: dict[str, str] = {}
    for campaign in session.scalars(query).all():
        if not scheme_named(campaign.scheme).shows_predictions:
            continue
        try:
            pushed[campaign.name] = push_predictions(session, admin, campaign.name, model_name, model_version)
        except PreannotationError as exc:
            skipped[campaign.name] = str(exc)
    return pushed, skipped
