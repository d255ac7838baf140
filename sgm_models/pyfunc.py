"""The baseline detector as an MLflow pyfunc model obeying detection/contract.py, with its signature and metadata."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from detection.baseline import BaselineDetector
from detection.contract import INPUT_COLUMNS, ModelImage, decode_png, output_frame
from sgm_models.predictors import baseline_predictor

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema

ARTIFACT = "detector"
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", name) for name in INPUT_COLUMNS]),
    outputs=Schema(
        [
            ColSpec("string", "image_id"),
            ColSpec("string", "boxes"),
            ColSpec("double", "image_score"),
            ColSpec("double", "exam_score"),
        ]
    ),
)


def images_from_frame(frame: pd.DataFrame) -> list[ModelImage]:
    """Contract input rows as images (the PNG decoded)."""
    return [
        ModelImage(str(r.image_id), str(r.exam_id), str(r.laterality), str(r.view), decode_png(str(r.image)))
        for r in frame.itertuples(index=False)
    ]


class BaselineDetectorModel(PythonModel):
    """Loads the pickled detector from the model's artifacts; answers contract frames with contract frames."""

    detector: BaselineDetector

    def load_context(self, context: Any) -> None:
        with Path(context.artifacts[ARTIFACT]).open("rb") as fh:
            self.detector = pickle.load(fh)  # our own artifact, written by log_detector

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return output_frame(baseline_predictor(self.detector)(images_from_frame(frame)))


def _requirements() -> list[str]:
    # Stated, not inferred: inference would load the model in a subprocess at every log.
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "scipy", "numpy", "pandas", "pillow")]


def log_detector(detector: BaselineDetector, input_long_side: int) -> Any:
    """In the active run: the detector as a pyfunc model named `model`; returns MLflow's ModelInfo."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "detector.pkl"
        path.write_bytes(pickle.dumps(detector))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=BaselineDetectorModel(),
            artifacts={ARTIFACT: str(path)},
            signature=SIGNATURE,
            metadata={"input_long_side": input_long_side, "contract": "sgm-detector-v1"},
            pip_requirements=_requirements(),
        )
