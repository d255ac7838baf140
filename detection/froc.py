"""Lesion-level matching and the FROC curve (CAMELYON16 / MONAI convention), in numpy.

A prediction *hits* a lesion by a configurable criterion. Several hits on one lesion count once (the lesion
takes the best score; extra hits are neither true nor false positives); a prediction that hits no lesion is a
false positive whatever the criterion. Matching never pairs boxes without the criterion holding, so a far-away
prediction is never counted as a hit (the assignment-without-a-cut bug of some published packages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FROC_FP_RATES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in image pixels


@dataclass(frozen=True)
class HitCriterion:
    """`centre`: the prediction's centre lies inside the lesion box; `iou`: IoU at least `iou_threshold`."""

    kind: Literal["centre", "iou"] = "centre"
    iou_threshold: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in ("centre", "iou"):
            raise ValueError(f"hit criterion must be 'centre' or 'iou', not {self.kind!r}")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"IoU threshold must be in (0, 1], not {self.iou_threshold}")


@dataclass(frozen=True)
class ImagePredictions:
    """One image: the model's boxes with scores and the final read's lesion boxes."""

    boxes: Sequence[Box]
    scores: Sequence[float]
    lesions: Sequence[Box]


@dataclass(frozen=True)
class LesionScores:
    """What FROC needs: the best hit score per lesion (0 when missed) and every false positive's score."""

    lesion_scores: NDArray[np.float64]
    false_positive_scores: NDArray[np.float64]
    num_images: int


def _as_array(boxes: Sequence[Box]) -> NDArray[np.float64]:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def box_iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Intersection over union of boxes in broadcastable (..., 4) arrays; 0 where the union is empty."""
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = np.broadcast_to(union - inter, inter.shape)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_hits(pred: NDArray[np.float64], truth: NDArray[np.float64], criterion: HitCriterion) -> NDArray[np.bool_]:
    """Whether each prediction hits its truth box, element-wise over broadcastable (..., 4) arrays."""
    if criterion.kind == "centre":
        cx = (pred[..., 0] + pred[..., 2]) / 2
        cy = (pred[..., 1] + pred[..., 3]) / 2
        return np.asarray((cx >= truth[..., 0]) & (cx <= truth[..., 2]) & (cy >= truth[..., 1]) & (cy <= truth[..., 3]))
    return np.asarray(box_iou(pred, truth) >= criterion.iou_threshold)


def hit_matrix(boxes: Sequence[Box], lesions: Sequence[Box], criterion: HitCriterion) -> NDArray[np.bool_]:
    """hits[i, j] is True when prediction i hits lesion j."""
    pred, truth = _as_array(boxes), _as_array(lesions)
    return box_hits(pred[:, None, :], truth[None, :, :], criterion)


def score_lesions(images: Sequence[ImagePredictions], criterion: HitCriterion | None = None) -> LesionScores:
    """Best hit score per lesion and the scores of predictions that hit nothing, over all images."""
    criterion = criterion or HitCriterion()
    lesion_scores: list[NDArray[np.float64]] = []
    fp_scores: list[NDArray[np.float64]] = []
    for image in images:
        scores = np.asarray(image.scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(image.boxes):
            raise ValueError(f"{len(image.boxes)} boxes but {len(scores)} scores")
        hits = hit_matrix(image.boxes, image.lesions, criterion)
        best = np.where(hits, scores[:, None], 0.0).max(axis=0, initial=0.0)
        lesion_scores.append(best)
        fp_scores.append(scores[~hits.any(axis=1)])
    return LesionScores(
        np.concatenate(lesion_scores) if lesion_scores else np.zeros(0),
        np.concatenate(fp_scores) if fp_scores else np.zeros(0),
        len(images),
    )


@dataclass(frozen=True)
class FrocCurve:
    """False positives per image and lesion sensitivity per score threshold, thresholds ascending.

    As in MONAI's `compute_froc_curve_data`: the lowest score is not a threshold, and the curve ends at
    (0 FP per image, sensitivity 0) for a threshold above every score.
    """

    thresholds: NDArray[np.float64]
    fps_per_image: NDArray[np.float64]
    sensitivity: NDArray[np.float64]

    def sensitivity_at(self, fp_rates: Sequence[float] = FROC_FP_RATES) -> dict[float, float]:
        """Sensitivity interpolated at these FP-per-image rates (as MONAI's `compute_froc_score`)."""
        values = np.interp(fp_rates, self.fps_per_image[::-1], self.sensitivity[::-1])
        return {float(rate): float(value) for rate, value in zip(fp_rates, values, strict=True)}

    def score(self, fp_rates: Sequence[float] = FROC_FP_RATES) -> float:
        """The FROC score: mean sensitivity over the FP rates."""
        return float(np.mean(list(self.sensitivity_at(fp_rates).values())))


def _count_at_or_above(values: NDArray[np.float64], thresholds: NDArray[np.float64]) -> NDArray[np.int64]:
    ordered = np.sort(values)
    return np.asarray(len(ordered) - np.searchsorted(ordered, thresholds, side="left"), dtype=np.int64)


def froc_curve(scored: LesionScores) -> FrocCurve:
    """The FROC curve from lesion and false-positive scores."""
    if scored.num_images == 0 or len(scored.lesion_scores) == 0:
        raise ValueError("FROC needs at least one image and one lesion")
    thresholds = np.unique(np.concatenate([scored.lesion_scores, scored.false_positive_scores]))[1:]
    fps = _count_at_or_above(scored.false_positive_scores, thresholds) / scored.num_images
    sensitivity = _count_at_or_above(scored.lesion_scores, thresholds) / len(scored.lesion_scores)
    return FrocCurve(
        np.append(thresholds, np.inf),
        np.append(fps, 0.0).astype(np.float64),
        np.append(sensitivity, 0.0).astype(np.float64),
    )


def exam_auc(suspicion: Sequence[float], malignant: Sequence[bool]) -> float:
    """Exam-level ROC AUC (Mann-Whitney U with tie correction); needs both classes."""
    scores = np.asarray(suspicion, dtype=np.float64)
    labels = np.asarray(malignant, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("exam AUC needs positive and negative exams")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average_rank = first + (counts + 1) / 2.0  # ties share the mean of their 1-based ranks
    ranks[order] = np.repeat(average_rank, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
