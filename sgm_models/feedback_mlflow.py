"""Feedback figures logged to MLflow against the model version and the data they were computed on.

One run per computation, named for the model version, in the `sgm-model-feedback` experiment. Every metric
is logged with the version's logged-model id (MLflow 3: it then shows on the model's page) and the feedback
dataset (the exams counted, with their labels and scores, as an MLflow dataset whose digest changes when the
final reads or predictions do). Artifacts: the FROC curve as `froc.png` and all figures as `feedback.json`.
The model version gets a `feedback_run_id` tag pointing at the latest run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgm_datasets.mlflow_log import mlflow_client, use_tracking
from sgm_models.feedback_db import FeedbackError, ModelFeedback
from sgm_models.feedback_plot import froc_png

EXPERIMENT = "sgm-model-feedback"


@dataclass(frozen=True)
class FeedbackRun:
    run_id: str
    model_id: str | None  # None when the version was registered without an MLflow 3 logged model
    dataset_digest: str
    artifacts: tuple[str, ...]


def _mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


def run_name(name: str, version: str) -> str:
    return f"feedback {name} v{version}"


def feedback_dataset(feedback: ModelFeedback) -> Any:
    """The exams behind the figures as an MLflow dataset; the digest is over their content."""
    exams = feedback.exams.sort_values("exam_id").reset_index(drop=True)
    exams = exams.astype({"exam_id": str, "exam_score": float})  # ids, not numbers; scores may be missing
    digest = hashlib.sha256(exams.to_csv(index=False).encode()).hexdigest()[:32]
    name = f"feedback-{feedback.model_name}-v{feedback.model_version}"
    return _mlflow().data.from_pandas(exams, name=name, digest=digest, targets="positive")


def _model_id(client: Any, name: str, version: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        model_version = client.get_model_version(name, version)
    except MlflowException:
        raise FeedbackError(f"model {name} has no version {version} in the MLflow registry") from None
    # The SQL registry does not keep `model_id` on versions; a version registered from a logged model
    # (MLflow 3's `log_model(registered_model_name=...)`) has the source `models:/m-...` naming it.
    source = str(model_version.source or "")
    from_source = source.removeprefix("models:/") if source.startswith("models:/m-") else None
    return getattr(model_version, "model_id", None) or from_source


def _experiment_id(client: Any, tracking_uri: str) -> str:
    """The feedback experiment; on a SQLite store its artifacts live beside the database, not in the cwd."""
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return str(client.create_experiment(EXPERIMENT, artifact_location=location))


def _artifacts(feedback: ModelFeedback, folder: Path) -> list[Path]:
    figures: dict[str, Any] = {"model": feedback.model_name, "version": feedback.model_version}
    figures |= {"detection": feedback.detection.as_json(), "review": feedback.review.__dict__}
    paths = [folder / "feedback.json"]
    paths[0].write_text(json.dumps(figures, indent=2, default=float))
    curve = feedback.detection.curve
    if curve is not None:
        title = f"{feedback.model_name} v{feedback.model_version}: FROC on {feedback.detection.exams} exams"
        paths.append(folder / "froc.png")
        paths[1].write_bytes(froc_png(curve, feedback.detection.froc, title))
    return paths


def log_feedback(tracking_uri: str, feedback: ModelFeedback) -> FeedbackRun:
    """A run holding the figures, attached to the registered version's logged model and the feedback data."""
    mlflow = _mlflow()
    from mlflow.entities import LoggedModelInput

    client = mlflow_client(tracking_uri)
    model_id = _model_id(client, feedback.model_name, feedback.model_version)
    use_tracking(tracking_uri)
    mlflow.set_experiment(experiment_id=_experiment_id(client, tracking_uri))
    dataset = feedback_dataset(feedback)
    tags = {"sgm.model_name": feedback.model_name, "sgm.model_version": feedback.model_version}
    with mlflow.start_run(run_name=run_name(feedback.model_name, feedback.model_version), tags=tags) as run:
        mlflow.log_input(dataset, context="feedback", model=LoggedModelInput(model_id) if model_id else None)
        mlflow.log_metrics(feedback.metrics(), model_id=model_id, dataset=dataset)
        with tempfile.TemporaryDirectory() as folder:
            paths = _artifacts(feedback, Path(folder))
            for path in paths:
                mlflow.log_artifact(str(path))
        run_id = str(run.info.run_id)
    client.set_model_version_tag(feedback.model_name, feedback.model_version, "feedback_run_id", run_id)
    return FeedbackRun(run_id, model_id, str(dataset.digest), tuple(p.name for p in paths))
