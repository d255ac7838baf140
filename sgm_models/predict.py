"""Run a model version on studies: read, window and resize each mammogram, call the backend, store the answer.

Images travel under opaque ids (database row numbers), never UIDs, since a remote server may be another
machine. Re-running a version on the same images stores nothing; a failure is stored with its reason and the
study is tried again on a later run.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pydicom
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from detection.contract import INPUT_COLUMNS, MalformedOutput, parse_output
from emr_core.db import session_scope
from emr_core.dicom.render import PixelMapping, display_pixels, encode_png
from emr_core.enums import InferenceStatus
from emr_core.objectstore import open_at
from sgm_models.inference import Backend, InferenceError
from sgm_models.predictions import (
    ImagePrediction,
    StudyImage,
    inference_of,
    mammograms,
    predicted_instances,
    store_done,
    store_failure,
)

log = logging.getLogger(__name__)


class ImageUnreadable(InferenceError):
    """A stored mammogram could not be read or rendered for the model."""


@dataclass(frozen=True)
class PreparedImage:
    """A mammogram as the model receives it, and the way back to DICOM pixels."""

    image: StudyImage
    png_base64: str
    mapping: PixelMapping
    sha256: str  # of the pixels sent (and their size), so the same input always hashes the same


@dataclass(frozen=True)
class StudyOutcome:
    study_id: int
    status: str  # done, failed, unchanged
    reason: str = ""


@dataclass
class PredictionReport:
    """What one run did: studies done, failed (with reasons), and left unchanged."""

    model_name: str
    model_version: str
    done: int = 0
    failed: int = 0
    unchanged: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: StudyOutcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.status == "failed":
            self.reasons[outcome.reason] += 1

    def summary(self) -> str:
        return (
            f"{self.model_name} v{self.model_version}: {self.done} done, {self.failed} failed, "
            f"{self.unchanged} unchanged"
        )


def prepare(image: StudyImage, root: Path, long_side: int) -> PreparedImage:
    """Window and resize one stored mammogram to the model's input size, encoded as the contract says."""
    try:
        with open_at(root, image.stored_path) as fp:  # a local file or an S3 object
            grey, mapping = display_pixels(pydicom.dcmread(fp), long_side)
    except Exception as exc:  # one unreadable file fails its study, with the reason, not the run
        raise ImageUnreadable(f"image {image.sop_instance_uid} cannot be read: {type(exc).__name__}") from None
    digest = hashlib.sha256(f"{mapping.png_width}x{mapping.png_height}:".encode())
    digest.update(grey.tobytes())
    png = base64.b64encode(encode_png(grey)).decode("ascii")
    return PreparedImage(image, png, mapping, digest.hexdigest())


def study_sha256(prepared: Sequence[PreparedImage]) -> str:
    """Over the image hashes in instance order: the same images give the same study hash."""
    return hashlib.sha256("\n".join(p.sha256 for p in prepared).encode()).hexdigest()


def input_frame(study_id: int, prepared: Sequence[PreparedImage]) -> pd.DataFrame:
    rows = [(str(p.image.instance_id), str(study_id), p.image.laterality, p.image.view, p.png_base64) for p in prepared]
    return pd.DataFrame(rows, columns=list(INPUT_COLUMNS))


def run_model(
    backend: Backend, study_id: int, prepared: Sequence[PreparedImage]
) -> tuple[float, list[ImagePrediction]]:
    """The backend's answer, checked against the contract and scaled back to DICOM pixels."""
    output = backend.predict(input_frame(study_id, prepared))
    sent = [(str(p.image.instance_id), p.mapping.png_width, p.mapping.png_height) for p in prepared]
    results = parse_output(output, sent)
    images = []
    for p, result in zip(prepared, results, strict=True):
        fx, fy = p.mapping.dicom_columns / p.mapping.png_width, p.mapping.dicom_rows / p.mapping.png_height
        boxes = [box.scaled(fx, fy).as_dict() for box in result.boxes]
        images.append(ImagePrediction(p.image.instance_id, p.sha256, boxes, result.image_score))
    return max(r.exam_score for r in results), images


def _already_done(sessions: sessionmaker[Session], study_id: int, backend: Backend) -> tuple[list[StudyImage], str]:
    """The study's mammograms, and the stored study hash if this version is done on exactly these images."""
    with session_scope(sessions) as session:
        images = mammograms(session, study_id)
        row = inference_of(session, study_id, backend.model.name, backend.model.version)
        if row is None or row.status != InferenceStatus.DONE.value:
            return images, ""
        same = predicted_instances(session, row.id) == {i.instance_id for i in images}
        return images, row.input_sha256 if same else ""


def predict_study(sessions: sessionmaker[Session], root: Path, backend: Backend, study_id: int) -> StudyOutcome:
    """Run and store one study; never raises for the study's own problems (they become its failed status)."""
    model = backend.model
    images, stored_sha = _already_done(sessions, study_id, backend)
    if stored_sha or not images:
        return StudyOutcome(study_id, "unchanged", "" if images else "no mammograms")
    sha, failure, result = "", "", None
    try:
        prepared = [prepare(image, root, model.input_long_side) for image in images]
        sha = study_sha256(prepared)
        result = run_model(backend, study_id, prepared)
    except MalformedOutput as exc:
        failure = f"malformed output: {exc}"
    except InferenceError as exc:
        failure = str(exc)
    try:
        with session_scope(sessions) as session:
            if result is None:
                store_failure(session, study_id, model.name, model.version, sha, failure)
            else:
                store_done(session, study_id, model.name, model.version, sha, *result)
    except IntegrityError:  # another run stored this study and version at the same moment
        return StudyOutcome(study_id, "unchanged")
    if failure:
        log.warning("inference of study %s by %s v%s failed: %s", study_id, model.name, model.version, failure)
        return StudyOutcome(study_id, "failed", failure)
    return StudyOutcome(study_id, "done")


def predict_studies(
    sessions: sessionmaker[Session],
    root: Path,
    backend: Backend,
    study_ids: Sequence[int],
    workers: int = 2,
    progress: Callable[[StudyOutcome], None] | None = None,
) -> PredictionReport:
    """Predict several studies, at most `workers` at once (reading, the model and storing overlap)."""
    report = PredictionReport(backend.model.name, backend.model.version)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="inference") as pool:
        for outcome in pool.map(lambda study_id: predict_study(sessions, root, backend, study_id), study_ids):
            report.add(outcome)
            if progress is not None:
                progress(outcome)
    return report
