"""Stored predictions: which studies still need a model version, and writing one study's outcome atomically.

Query functions take the session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, delete, exists, select, type_coerce
from sqlalchemy.orm import Session

from detection.contract import MalformedOutput, PredictedBox, checked_box
from emr_core.enums import InferenceStatus
from emr_core.models import Instance, Series, Study, utcnow
from emr_core.models_ml import ModelPrediction, StudyInference


@dataclass(frozen=True)
class StudyImage:
    """One mammogram of a study, as stored."""

    instance_id: int
    sop_instance_uid: str
    laterality: str
    view: str
    stored_path: str  # Instance.stored_path: in the data folder, or s3://...


@dataclass(frozen=True)
class ImagePrediction:
    """The boxes (DICOM pixels) and score for one image, and the hash of the pixels the model saw."""

    instance_id: int
    input_sha256: str
    boxes: list[dict[str, Any]]
    image_score: float


def mammograms(session: Session, study_id: int) -> list[StudyImage]:
    """The study's mammograms in instance order (the order the study hash is taken in)."""
    rows = session.execute(
        select(Instance.id, Instance.sop_instance_uid, Instance.laterality, Instance.view, Instance.stored_path)
        .join(Series, Series.id == Instance.series_id)
        .where(Series.study_id == study_id, Instance.is_mammogram.is_(True))
        .order_by(Instance.id)
    )
    return [StudyImage(i, sop, side or "", view or "", path) for i, sop, side, view, path in rows]


def inference_of(session: Session, study_id: int, model_name: str, version: str) -> StudyInference | None:
    return session.scalar(
        select(StudyInference).where(
            StudyInference.study_id == study_id,
            StudyInference.model_name == model_name,
            StudyInference.model_version == version,
        )
    )


def predicted_instances(session: Session, inference_id: int) -> set[int]:
    query = select(ModelPrediction.instance_id).where(ModelPrediction.study_inference_id == inference_id)
    return set(session.scalars(query))


def pending_studies(session: Session, model_name: str, version: str) -> list[int]:
    """Studies with mammograms and no done inference by this model version (failed ones come back)."""
    done = exists().where(
        StudyInference.study_id == Study.id,
        StudyInference.model_name == model_name,
        StudyInference.model_version == version,
        StudyInference.status == InferenceStatus.DONE.value,
    )
    has_mammograms = (
        exists()
        .where(Series.study_id == Study.id, Instance.series_id == Series.id, Instance.is_mammogram.is_(True))
        .correlate(Study)
    )
    return list(session.scalars(select(Study.id).where(has_mammograms, ~done).order_by(Study.id)))


def _row(session: Session, study_id: int, model_name: str, version: str) -> StudyInference:
    row = inference_of(session, study_id, model_name, version)
    if row is None:
        row = StudyInference(study_id=study_id, model_name=model_name, model_version=version, attempts=0)
        session.add(row)
        session.flush()
    else:
        session.execute(delete(ModelPrediction).where(ModelPrediction.study_inference_id == row.id))
    return row


def store_done(
    session: Session,
    study_id: int,
    model_name: str,
    version: str,
    study_sha256: str,
    exam_score: float,
    images: Sequence[ImagePrediction],
) -> None:
    """The study's inference as done, with exactly these image predictions (earlier ones replaced)."""
    row = _row(session, study_id, model_name, version)
    row.status, row.reason, row.input_sha256 = InferenceStatus.DONE.value, "", study_sha256
    row.exam_score, row.attempts, row.updated_at = exam_score, row.attempts + 1, utcnow()
    session.add_all(
        ModelPrediction(
            study_inference_id=row.id,
            instance_id=image.instance_id,
            input_sha256=image.input_sha256,
            boxes=image.boxes,
            image_score=image.image_score,
        )
        for image in images
    )


def store_failure(
    session: Session, study_id: int, model_name: str, version: str, study_sha256: str, reason: str
) -> None:
    """The study's inference as failed with the reason, and no predictions."""
    row = _row(session, study_id, model_name, version)
    row.status, row.reason, row.input_sha256 = InferenceStatus.FAILED.value, reason[:2000], study_sha256
    row.exam_score, row.attempts, row.updated_at = None, row.attempts + 1, utcnow()


def _image_rows(session: Session, inference_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    # The boxes column read as text and decoded tolerantly (decoded_boxes): a row a database writer edited into
    # invalid JSON or malformed boxes loses those boxes, never the whole answer.
    rows = session.execute(
        select(
            ModelPrediction.study_inference_id,
            ModelPrediction.image_score,
            ModelPrediction.input_sha256,
            type_coerce(ModelPrediction.boxes, Text),
            Instance.sop_instance_uid,
            Instance.laterality,
            Instance.view,
        )
        .join(Instance, Instance.id == ModelPrediction.instance_id)
        .where(ModelPrediction.study_inference_id.in_(inference_ids))
        .order_by(ModelPrediction.instance_id)
    ).all()
    images: dict[int, list[dict[str, Any]]] = {}
    for inference_id, score, sha256, boxes, sop, side, view in rows:
        images.setdefault(inference_id, []).append(
            {
                "sop_instance_uid": sop,
                "laterality": side,
                "view": view,
                "image_score": _number(score),
                "boxes": [box.as_dict() for box in decoded_boxes(boxes)],
                "input_sha256": sha256,
            }
        )
    return images


def study_predictions(session: Session, study_id: int, model_name: str | None = None) -> list[dict[str, Any]]:
    """Every model version's outcome on the study (newest first), with its boxes per image in DICOM pixels."""
    query = select(StudyInference).where(StudyInference.study_id == study_id)
    if model_name:
        query = query.where(StudyInference.model_name == model_name)
    rows = list(session.scalars(query.order_by(StudyInference.updated_at.desc(), StudyInference.id.desc())))
    images = _image_rows(session, [r.id for r in rows])
    return [
        {
            "model_name": r.model_name,
            "model_version": r.model_version,
            "status": r.status,
            "reason": r.reason,
            "exam_score": _number(r.exam_score),
            "input_sha256": r.input_sha256,
            "attempts": r.attempts,
            "updated_at": r.updated_at,
            "images": images.get(r.id, []),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class DoneRun:
    """One model version's successful run on a study, with its exam score."""

    id: int
    model_name: str
    model_version: str
    exam_score: float | None


def _number(value: Any) -> float | None:
    """A stored score as a finite number, else None (MariaDB's JSON check lets 1e400, Python's infinity, in)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def well_formed_box(raw: Any) -> PredictedBox | None:
    """The box if it keeps the model contract's rule (detection.contract.checked_box), else None."""
    try:
        return checked_box(raw, "stored prediction")
    except MalformedOutput:
        return None


def decoded_boxes(text: str | None) -> list[PredictedBox]:
    """The well-formed boxes of a stored boxes column (its raw JSON text); anything else is skipped."""
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        return []
    if not isinstance(raw, list):
        return []
    return [box for box in map(well_formed_box, raw) if box is not None]


def done_runs(session: Session, study_id: int) -> list[DoneRun]:
    """The study's successful runs, newest first (failed runs have no boxes worth drawing)."""
    rows = session.execute(
        select(StudyInference.id, StudyInference.model_name, StudyInference.model_version, StudyInference.exam_score)
        .where(StudyInference.study_id == study_id, StudyInference.status == InferenceStatus.DONE.value)
        .order_by(StudyInference.updated_at.desc(), StudyInference.id.desc())
    )
    return [DoneRun(*row) for row in rows]


def run_boxes(session: Session, inference_id: int) -> dict[int, tuple[float, list[PredictedBox]]]:
    """instance id -> (image score, well-formed boxes) of one run; malformed boxes are left out."""
    # The column read as text: a row edited into invalid JSON must not fail the whole read.
    rows = session.execute(
        select(
            ModelPrediction.instance_id, ModelPrediction.image_score, type_coerce(ModelPrediction.boxes, Text)
        ).where(ModelPrediction.study_inference_id == inference_id)
    )
    return {instance_id: (score, decoded_boxes(text)) for instance_id, score, text in rows}
