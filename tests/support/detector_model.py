"""Test detectors obeying detection/contract.py, logged as MLflow models-from-code (`model_config["mode"]`).

brightest: one box on the brightest cell of a 16x16 grid, scored by its mean grey; the others are hostile:
malformed (a box outside the image), short (one row missing), raise (an exception), sleep (slow answer).
"""

from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from detection.contract import OUTPUT_COLUMNS, decode_png

GRID = 16


def brightest_box(pixels: np.ndarray) -> tuple[dict[str, Any], float]:
    height, width = pixels.shape
    cell_h, cell_w = max(1, height // GRID), max(1, width // GRID)
    cropped = pixels[: cell_h * GRID, : cell_w * GRID].astype(np.float64)
    means = cropped.reshape(GRID, cell_h, GRID, cell_w).mean(axis=(1, 3))
    row, col = (int(v) for v in np.unravel_index(int(np.argmax(means)), means.shape))
    score = float(means[row, col]) / (65535.0 if pixels.max() > 255 else 255.0)
    box = {"x_min": col * cell_w, "y_min": row * cell_h, "x_max": (col + 1) * cell_w, "y_max": (row + 1) * cell_h}
    return {**box, "score": round(score, 6), "label": "lesion"}, round(score, 6)


class TestDetector(PythonModel):
    def load_context(self, context: Any) -> None:
        self.mode = str((context.model_config or {}).get("mode", "brightest"))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.mode == "raise":
            raise RuntimeError("weights are corrupt")
        if self.mode == "sleep":
            time.sleep(5)
        rows = []
        for item in model_input.itertuples(index=False):
            pixels = decode_png(str(item.image))
            box, score = brightest_box(pixels)
            if self.mode == "malformed":
                box["x_max"] = pixels.shape[1] + 50
            rows.append((str(item.image_id), str(item.exam_id), json.dumps([box]), score))
        frame = pd.DataFrame(rows, columns=["image_id", "exam_id", "boxes", "image_score"])
        frame["exam_score"] = frame.groupby("exam_id")["image_score"].transform("max")
        if self.mode == "short":
            frame = frame.iloc[:-1]
        return frame[list(OUTPUT_COLUMNS)]


mlflow.models.set_model(TestDetector())
