"""A bench detector with the baseline's kind of compute: blob candidates by difference of Gaussians on the
model-size image, patch features per candidate, a fixed logistic score (MLflow models-from-code).

It records the seconds spent in its own compute (after PNG decoding) so the bench can separate the model
from everything around it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel
from scipy import ndimage

from detection.contract import OUTPUT_COLUMNS, decode_png

CANDIDATES = 12
PATCH = 24


def _features(image: np.ndarray, y: int, x: int) -> np.ndarray:
    patch = image[max(0, y - PATCH) : y + PATCH, max(0, x - PATCH) : x + PATCH]
    grad = np.hypot(*np.gradient(patch)) if min(patch.shape) > 1 else np.zeros(1)
    return np.array([patch.mean(), patch.std(), grad.mean(), np.percentile(patch, 90)])


def detect(pixels: np.ndarray) -> tuple[list[dict[str, Any]], float]:
    image = pixels.astype(np.float32) / 255.0
    dogs = [ndimage.gaussian_filter(image, s) - ndimage.gaussian_filter(image, 1.6 * s) for s in (2, 4, 8)]
    response = np.max(dogs, axis=0)
    peaks = (response == ndimage.maximum_filter(response, size=15)) & (response > 0.01) & (image > 0.05)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(response[ys, xs])[::-1][:CANDIDATES]
    boxes: list[dict[str, Any]] = []
    height, width = image.shape
    for y, x in zip(ys[order], xs[order], strict=True):
        f = _features(image, int(y), int(x))
        score = float(1 / (1 + np.exp(-(4 * f[2] + 2 * f[1] - 1))))
        boxes.append({"x_min": max(0, int(x) - PATCH), "y_min": max(0, int(y) - PATCH),
                      "x_max": min(width, int(x) + PATCH), "y_max": min(height, int(y) + PATCH),
                      "score": round(score, 6), "label": "lesion"})  # fmt: skip
    return boxes, max((b["score"] for b in boxes), default=0.0)


class BenchDetector(PythonModel):
    compute_seconds = 0.0

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        rows = []
        for item in model_input.itertuples(index=False):
            pixels = decode_png(str(item.image))
            start = time.perf_counter()
            boxes, score = detect(pixels)
            BenchDetector.compute_seconds += time.perf_counter() - start
            rows.append((str(item.image_id), str(item.exam_id), json.dumps(boxes), score))
        frame = pd.DataFrame(rows, columns=["image_id", "exam_id", "boxes", "image_score"])
        frame["exam_score"] = frame.groupby("exam_id")["image_score"].transform("max")
        return frame[list(OUTPUT_COLUMNS)]


mlflow.models.set_model(BenchDetector())
