"""Held-out evaluation of any detector on a split: FROC sensitivities at 0.25..8 FP/image, FROC score, exam AUC."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from detection.contract import ImageResult, ModelImage
from detection.froc import FROC_FP_RATES, HitCriterion, ImagePredictions, exam_auc, froc_curve, score_lesions
from sgm_models.data import LabelledImage

Predictor = Callable[[Sequence[ModelImage]], list[ImageResult]]


@dataclass(frozen=True)
class Evaluation:
    """Lesion- and exam-level figures of one detector on one split."""

    sensitivity: dict[float, float]  # at each FP-per-image rate
    froc_score: float
    exam_auc: float | None  # None when the split lacks exams with or without lesions
    images: int
    lesions: int

    def metrics(self, prefix: str) -> dict[str, float]:
        """Flat MLflow metric names, e.g. test.froc_score, test.sensitivity_at_0.25fp."""
        out = {f"{prefix}.froc_score": self.froc_score, f"{prefix}.images": float(self.images)}
        out |= {f"{prefix}.sensitivity_at_{rate:g}fp": value for rate, value in self.sensitivity.items()}
        out[f"{prefix}.lesions"] = float(self.lesions)
        if self.exam_auc is not None:
            out[f"{prefix}.exam_auc"] = self.exam_auc
        return out


def _auc(images: Sequence[LabelledImage], results: Sequence[ImageResult]) -> float | None:
    scores: dict[str, float] = {}
    positive: dict[str, bool] = {}
    for item, result in zip(images, results, strict=True):
        exam = item.image.exam_id
        scores[exam] = max(scores.get(exam, 0.0), result.exam_score)
        positive[exam] = positive.get(exam, False) or bool(item.lesions)
    if len(set(positive.values())) < 2:
        return None
    return exam_auc([scores[e] for e in scores], [positive[e] for e in scores])


def evaluate(
    predict: Predictor, images: Sequence[LabelledImage], criterion: HitCriterion | None = None, batch: int = 16
) -> Evaluation:
    """Run the detector over the images in batches and score it against their lesions."""
    results: list[ImageResult] = []
    for start in range(0, len(images), batch):
        results += predict([i.image for i in images[start : start + batch]])
    per_image = [
        ImagePredictions(
            [(b.x_min, b.y_min, b.x_max, b.y_max) for b in r.boxes], [b.score for b in r.boxes], list(i.lesions)
        )
        for i, r in zip(images, results, strict=True)
    ]
    curve = froc_curve(score_lesions(per_image, criterion))
    lesions = sum(len(i.lesions) for i in images)
    return Evaluation(curve.sensitivity_at(FROC_FP_RATES), curve.score(), _auc(images, results), len(images), lesions)
