"""Loading the feedback frames for one model version from the EMR, then computing the figures.

Studies count when the model version's inference on them is done and their reads are final: every side of the
study in its latest campaign has a consolidated read. Images are the ones the model returned predictions for;
lesions are the consolidated findings' boxes on those images. Reviews come from the latest valid annotation
revision of every reader whose role in the campaign's reading scheme was shown predictions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from annotation_ui.reads import group_result, region_box
from annotation_ui.schemes import SCHEMES
from emr_core.dicom.render import mapping_for
from emr_core.enums import InferenceStatus
from emr_core.models import Instance
from emr_core.models_annotation import (
    AnnotationCampaign,
    AnnotationRevision,
    CampaignTask,
    ConsolidatedFinding,
    ConsolidatedRead,
    ReaderAssignment,
)
from emr_core.models_ml import ModelPrediction, StudyInference
from sgm_models.feedback import BOX_COLUMNS, DetectionFeedback, FeedbackOptions, detection_feedback, positive_assessment
from sgm_models.feedback_review import ReviewCounts, ReviewOptions, review_counts
from sgm_models.predictions import decoded_boxes

VIEWS = ("cc", "mlo")


class FeedbackError(ValueError):
    """Feedback cannot be computed (no final studies for that version, bad options); one-line message."""


@dataclass(frozen=True)
class FeedbackFrames:
    images: pd.DataFrame
    predictions: pd.DataFrame
    lesions: pd.DataFrame
    exams: pd.DataFrame
    shown: pd.DataFrame
    drawn: pd.DataFrame


@dataclass(frozen=True)
class ModelFeedback:
    model_name: str
    model_version: str
    detection: DetectionFeedback
    review: ReviewCounts
    exams: pd.DataFrame  # exam_id (study id), exam_score, positive: the data the figures are about

    def metrics(self) -> dict[str, float]:
        return {**self.detection.metrics(), **self.review.metrics()}


def _inferences(session: Session, name: str, version: str) -> dict[int, float | None]:
    """study id -> exam score of the version's done inferences."""
    rows = session.execute(
        select(StudyInference.study_id, StudyInference.exam_score).where(
            StudyInference.model_name == name,
            StudyInference.model_version == version,
            StudyInference.status == InferenceStatus.DONE.value,
        )
    )
    return {study: score for study, score in rows}


def _final_tasks(session: Session, name: str, version: str) -> pd.DataFrame:
    """Campaign tasks of the latest campaign per inferred study, kept only when every side there is final."""
    query = (
        select(
            CampaignTask.id.label("task_id"),
            CampaignTask.campaign_id,
            CampaignTask.study_id,
            CampaignTask.cc_instance_id,
            CampaignTask.mlo_instance_id,
            ConsolidatedRead.assessment,
        )
        .join(StudyInference, StudyInference.study_id == CampaignTask.study_id)
        .outerjoin(ConsolidatedRead, ConsolidatedRead.campaign_task_id == CampaignTask.id)
        .where(
            StudyInference.model_name == name,
            StudyInference.model_version == version,
            StudyInference.status == InferenceStatus.DONE.value,
        )
    )
    tasks = pd.DataFrame(session.execute(query).all(), columns=list(query.selected_columns.keys()))
    if tasks.empty:
        return tasks
    latest = tasks.groupby("study_id")["campaign_id"].transform("max")
    tasks = tasks[tasks["campaign_id"] == latest]
    final = tasks.groupby("study_id")["assessment"].transform(lambda a: a.notna().all())
    return tasks[final.astype(bool)].reset_index(drop=True)


def _predictions(session: Session, name: str, version: str, studies: set[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(images, boxes) of the version's predictions on the given studies."""
    # Boxes read as text and decoded by the contract's rule: a row a database writer damaged loses its boxes only.
    rows = session.execute(
        select(StudyInference.study_id, ModelPrediction.instance_id, type_coerce(ModelPrediction.boxes, Text))
        .join(StudyInference, StudyInference.id == ModelPrediction.study_inference_id)
        .where(StudyInference.model_name == name, StudyInference.model_version == version)
    ).all()
    kept = [r for r in rows if r.study_id in studies]
    images = pd.DataFrame([(r.instance_id, r.study_id) for r in kept], columns=["image_id", "exam_id"])
    boxes = [(r.instance_id, b.x_min, b.y_min, b.x_max, b.y_max, b.score) for r in kept for b in decoded_boxes(r[2])]
    return images, pd.DataFrame(boxes, columns=["image_id", *BOX_COLUMNS, "score"])


def _lesions(session: Session, task_ids: list[int]) -> tuple[pd.DataFrame, set[int]]:
    """Lesion boxes per image of the tasks' consolidated findings, and the studies with a finding."""
    found = session.scalars(select(ConsolidatedFinding).where(ConsolidatedFinding.campaign_task_id.in_(task_ids)))
    rows: list[tuple[int, float, float, float, float]] = []
    studies: set[int] = set()
    for f in found:
        studies.add(f.study_id)
        for view in VIEWS:
            instance, box = getattr(f, f"{view}_instance_id"), [getattr(f, f"{view}_{k}") for k in _EDGES]
            if instance is not None and None not in box:
                rows.append((instance, *box))
    return pd.DataFrame(rows, columns=["image_id", *BOX_COLUMNS]), studies


_EDGES = ("xmin", "ymin", "xmax", "ymax")


def _exams(tasks: pd.DataFrame, scores: dict[int, float | None], with_finding: set[int], rule: str) -> pd.DataFrame:
    if rule == "finding":
        positive = {s: s in with_finding for s in tasks["study_id"].unique()}
    else:
        positive = tasks.groupby("study_id")["assessment"].agg(lambda a: any(positive_assessment(x) for x in a))
    studies = sorted(int(s) for s in tasks["study_id"].unique())
    return pd.DataFrame(
        {
            "exam_id": studies,
            "exam_score": [scores[s] for s in studies],
            "positive": [bool(positive[s]) for s in studies],
        }
    )


def load_frames(session: Session, name: str, version: str, options: FeedbackOptions) -> FeedbackFrames:
    """Every frame `detection_feedback` and `review_counts` need, for one model version."""
    scores = _inferences(session, name, version)
    tasks = _final_tasks(session, name, version)
    if tasks.empty:
        raise FeedbackError(f"no study predicted by {name} version {version} has final reads yet")
    images, predictions = _predictions(session, name, version, set(tasks["study_id"]))
    lesions, with_finding = _lesions(session, [int(t) for t in tasks["task_id"]])
    exams = _exams(tasks, scores, with_finding, options.positive_rule)
    shown, drawn = _reviews(session, tasks, predictions)
    return FeedbackFrames(images, predictions, lesions, exams, shown, drawn)


def _showing_roles(session: Session, campaign_ids: list[int]) -> dict[int, set[str]]:
    """campaign id -> roles that readers who see model predictions hold in it."""
    out: dict[int, set[str]] = {}
    for campaign_id, scheme_name in session.execute(
        select(AnnotationCampaign.id, AnnotationCampaign.scheme).where(AnnotationCampaign.id.in_(campaign_ids))
    ):
        scheme = SCHEMES.get(scheme_name)
        roles = {s.viewer for s in scheme.sights if s.predictions and s.viewer == s.owner} if scheme else set()
        if roles:
            out[campaign_id] = roles
    return out


def _latest_valid(session: Session, tasks: pd.DataFrame) -> list[AnnotationRevision]:
    """The newest valid revision per (assignment, task) for readers who were shown predictions."""
    showing = _showing_roles(session, [int(c) for c in tasks["campaign_id"].unique()])
    if not showing:
        return []
    assignments = [
        a.id
        for a in session.scalars(select(ReaderAssignment).where(ReaderAssignment.campaign_id.in_(list(showing))))
        if a.role in showing[a.campaign_id]
    ]
    task_ids = set(int(t) for t in tasks["task_id"])
    latest: dict[tuple[int, int], AnnotationRevision] = {}
    for rev in session.scalars(
        select(AnnotationRevision)
        .where(AnnotationRevision.assignment_id.in_(assignments), AnnotationRevision.valid.is_(True))
        .order_by(AnnotationRevision.id)
    ):
        if rev.campaign_task_id in task_ids:
            latest[(rev.assignment_id, rev.campaign_task_id)] = rev
    return list(latest.values())


def _reviews(session: Session, tasks: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shown, drawn): predicted boxes on each reviewed read's images, and the reader's final boxes there."""
    columns = ["read_id", "image_id", *BOX_COLUMNS]
    revisions = _latest_valid(session, tasks)
    if not revisions:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=columns)
    by_task = tasks.set_index("task_id")
    instances = {int(i) for v in VIEWS for i in by_task[f"{v}_instance_id"]}
    long_side = dict(session.execute(select(AnnotationCampaign.id, AnnotationCampaign.long_side)).all())
    sizes = {
        i: (int(c or 0), int(r or 0))
        for i, c, r in session.execute(
            select(Instance.id, Instance.columns, Instance.rows).where(Instance.id.in_(instances))
        )
    }
    boxes_by_image: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in predictions[["image_id", *BOX_COLUMNS]].itertuples(index=False):
        boxes_by_image[int(row[0])].append(tuple(row[1:]))
    shown: list[tuple[Any, ...]] = []
    drawn: list[tuple[Any, ...]] = []
    for rev in revisions:
        task = by_task.loc[rev.campaign_task_id]
        view_instance = {v: int(task[f"{v}_instance_id"]) for v in VIEWS}
        for instance in view_instance.values():
            shown.extend((rev.id, instance, *box) for box in boxes_by_image.get(instance, []))
        items = [i for i in rev.result if isinstance(i, dict)] if isinstance(rev.result, list) else []
        for region in group_result(items).regions.values():
            instance = view_instance[region.view]
            mapping = mapping_for(*sizes[instance], long_side[int(task["campaign_id"])])
            try:
                drawn.append((rev.id, instance, *region_box(region, mapping)))
            except (KeyError, TypeError, ValueError):
                continue  # a rectangle without numeric geometry is no box to compare with
    return pd.DataFrame(shown, columns=columns), pd.DataFrame(drawn, columns=columns)


def model_feedback(
    session: Session,
    name: str,
    version: str,
    options: FeedbackOptions | None = None,
    review_options: ReviewOptions | None = None,
) -> ModelFeedback:
    """All feedback figures for one model version from the EMR."""
    options = options or FeedbackOptions()
    frames = load_frames(session, name, version, options)
    detection = detection_feedback(frames.images, frames.predictions, frames.lesions, frames.exams, options)
    review = review_counts(frames.shown, frames.drawn, review_options)
    return ModelFeedback(name, version, detection, review, frames.exams)
