"""One feedback report end to end, for the CLI and the Dagster asset: resolve the version, compute, log."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from detection.froc import HitCriterion
from emr_core.db import session_scope
from sgm_models.errors import ModelError
from sgm_models.feedback import FeedbackOptions
from sgm_models.feedback_db import FeedbackError, ModelFeedback, model_feedback
from sgm_models.feedback_mlflow import FeedbackRun, log_feedback
from sgm_models.feedback_review import ReviewOptions


@dataclass(frozen=True)
class FeedbackReport:
    feedback: ModelFeedback
    run: FeedbackRun | None  # None when not logged


def parse_model_ref(ref: str) -> tuple[str, str]:
    """'NAME@3' -> ('NAME', '3'); 'NAME@champion' -> ('NAME', 'champion'), an alias to resolve."""
    name, at, version = ref.rpartition("@")
    if not at or not name or not version:
        raise FeedbackError(f"expected NAME@VERSION or NAME@ALIAS, not {ref!r}")
    return name, version


def resolve_version(tracking_uri: str, name: str, version_or_alias: str) -> str:
    """A version number as given, or the version an alias points at in the MLflow registry."""
    if version_or_alias.isdigit():
        return version_or_alias
    from sgm_models.registry import ModelRegistry

    try:
        return ModelRegistry(tracking_uri).version_of(name, version_or_alias)
    except ModelError:
        raise FeedbackError(f"model {name} has no alias {version_or_alias!r} in the MLflow registry") from None


def build_options(
    hit: str = "centre", iou: float = 0.3, positive: str = "assessment", threshold: float = 0.0
) -> FeedbackOptions:
    """Options from plain values (CLI flags, asset config); a bad value is a one-line error."""
    try:
        return FeedbackOptions(HitCriterion(hit, iou), threshold, positive)  # type: ignore[arg-type]
    except ValueError as exc:
        raise FeedbackError(str(exc)) from None


def run_feedback(
    sessions: sessionmaker[Session],
    tracking_uri: str | None,
    name: str,
    version: str,
    options: FeedbackOptions,
    review: ReviewOptions | None = None,
) -> FeedbackReport:
    """Compute the figures from the EMR and, given a tracking URI, log them against the version."""
    with session_scope(sessions) as session:
        feedback = model_feedback(session, name, version, options, review)
    run = log_feedback(tracking_uri, feedback) if tracking_uri else None
    return FeedbackReport(feedback, run)


def summary_rows(feedback: ModelFeedback) -> list[tuple[str, str]]:
    """(figure, value) pairs for a printed table, in reading order."""
    d, r = feedback.detection, feedback.review

    def fmt(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.3f}"

    rows = [
        ("exams (positive)", f"{d.exams} ({d.positive_exams})"),
        ("images", str(d.images)),
        ("lesions", str(d.lesions)),
        ("predicted boxes", str(d.predictions)),
        ("lesion sensitivity", fmt(d.sensitivity)),
        ("false positives per image", fmt(d.fp_per_image)),
        *((f"sensitivity at {rate:g} FP/image", fmt(value)) for rate, value in d.froc.items()),
        ("FROC score (mean)", fmt(d.froc_score)),
        ("exam AUC", fmt(d.exam_auc)),
        ("reviewed reads", str(r.reads)),
        ("boxes shown / accepted / edited / rejected", f"{r.shown} / {r.accepted} / {r.edited} / {r.rejected}"),
        ("boxes added by readers", str(r.added)),
    ]
    return rows
