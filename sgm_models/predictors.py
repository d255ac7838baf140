"""Detectors as predictors over contract images: the trained baseline and the trivial brightest spot."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from detection.baseline import BaselineDetector, ImageDetections, brightest_spot, exam_scores
from detection.contract import ImageResult, ModelImage


def _results(images: Sequence[ModelImage], found: list[ImageDetections]) -> list[ImageResult]:
    exams = exam_scores([i.exam_id for i in images], [f.image_score for f in found])
    return [
        ImageResult(i.image_id, f.boxes, f.image_score, exam)
        for i, f in zip(images, found, strict=True)
        for exam in (exams.pop(0),)
    ]


def _predictor(detect: Callable[[NDArray[np.generic]], ImageDetections]) -> Callable[..., list[ImageResult]]:
    def predict(images: Sequence[ModelImage]) -> list[ImageResult]:
        return _results(images, [detect(i.pixels) for i in images])

    return predict


def baseline_predictor(detector: BaselineDetector) -> Callable[[Sequence[ModelImage]], list[ImageResult]]:
    return _predictor(detector.predict)


def trivial_predictor() -> Callable[[Sequence[ModelImage]], list[ImageResult]]:
    """One box at the brightest spot of each image: what a detector must beat."""
    return _predictor(brightest_spot)
