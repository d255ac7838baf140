"""Feedback per model version from the final reads, logged to MLflow, with the FROC curve as metadata."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import base64

import dagster as dg

from assets.annotation import consolidated_findings
from assets.resources import EmrDatabaseResource, MlflowResource
from sgm_models.feedback_db import FeedbackError
from sgm_models.feedback_plot import froc_png
from sgm_models.feedback_report import build_options, resolve_version, run_feedback

DEFAULT_MODEL = "sgm-baseline-detector"


class ModelFeedbackConfig(dg.Config):
    model_name: str = DEFAULT_MODEL
    version: str = "champion"  # a version number or a registry alias
    hit: str = "centre"  # or "iou"
    iou_threshold: float = 0.3
    positive: str = "assessment"  # or "finding"
    operating_threshold: float = 0.0


def _metadata(report_png: bytes | None, figures: dict[str, float], run_id: str, version: str) -> dict[str, object]:
    out: dict[str, object] = {"model_version": version, "mlflow_run": run_id, **figures}
    if report_png is not None:
        encoded = base64.b64encode(report_png).decode("ascii")
        out["froc_curve"] = dg.MetadataValue.md(f"![FROC curve](data:image/png;base64,{encoded})")
    return out


@dg.asset(group_name="models", deps=[consolidated_findings], kinds={"mlflow"})
def model_feedback(
    config: ModelFeedbackConfig, emr_db: EmrDatabaseResource, mlflow_tracking: MlflowResource
) -> dg.MaterializeResult:
    """Sensitivity, FP per image, FROC, exam AUC and accept/edit/reject of one model version, logged to MLflow."""
    uri = mlflow_tracking.uri()
    try:
        options = build_options(config.hit, config.iou_threshold, config.positive, config.operating_threshold)
        version = resolve_version(uri, config.model_name, config.version)
        report = run_feedback(emr_db.sessions(), uri, config.model_name, version, options)
    except FeedbackError as exc:
        raise dg.Failure(description=str(exc)) from None
    detection, run = report.feedback.detection, report.run
    png = froc_png(detection.curve, detection.froc, f"{config.model_name} v{version}") if detection.curve else None
    return dg.MaterializeResult(
        metadata=_metadata(png, report.feedback.metrics(), run.run_id if run else "", version),  # type: ignore[arg-type]
    )
