"""What final reads say about one model version: lesion sensitivity, FP per image, FROC, exam AUC.

Pure functions over frames, vectorised so that thousands of exams take well under a second:
    images      image_id, exam_id                        every image the model was run on
    predictions image_id, x_min, y_min, x_max, y_max, score   the model's boxes (DICOM pixels)
    lesions     image_id, x_min, y_min, x_max, y_max      the final read's lesion boxes on those images
    exams       exam_id, exam_score, positive            one row per exam

A lesion is one finding's box on one image (a finding drawn on CC and MLO is two lesion marks), as the
FP-per-image axis of the FROC is per image. Matching follows detection/froc.py: a prediction hits a lesion by
the configured criterion; several hits on one lesion count once (the lesion takes the best score; the extra
hits are neither true nor false positives); a prediction hitting no lesion on its image is a false positive.
The per-box accept / edit / reject review is in sgm_models/feedback_review.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detection.froc import FROC_FP_RATES, FrocCurve, HitCriterion, LesionScores, box_hits, exam_auc, froc_curve

BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]


@dataclass(frozen=True)
class FeedbackOptions:
    """How feedback is computed: the hit criterion, the operating threshold and what makes an exam positive."""

    criterion: HitCriterion = field(default_factory=HitCriterion)
    # Boxes scoring below this are not counted for the operating-point sensitivity and FP per image.
    operating_threshold: float = 0.0
    # "assessment": an exam is positive when a side's final BI-RADS assessment is at least 4;
    # "finding": when the final read has any finding.
    positive_rule: str = "assessment"
    fp_rates: tuple[float, ...] = FROC_FP_RATES

    def __post_init__(self) -> None:
        if self.positive_rule not in ("assessment", "finding"):
            raise ValueError(f"positive rule must be 'assessment' or 'finding', not {self.positive_rule!r}")


@dataclass(frozen=True)
class DetectionFeedback:
    """Lesion- and exam-level figures for one model version on the final reads."""

    exams: int
    positive_exams: int
    images: int
    lesions: int
    predictions: int
    true_positives: int  # lesions hit at the operating threshold
    false_positives: int  # at the operating threshold
    sensitivity: float  # NaN without lesions
    fp_per_image: float
    froc: dict[float, float]  # sensitivity at each FP-per-image rate; empty without lesions
    froc_score: float  # mean of `froc`; NaN without lesions
    exam_auc: float  # NaN unless both positive and negative exams
    curve: FrocCurve | None

    def metrics(self) -> dict[str, float]:
        """Flat figures with MLflow-safe names (NaN ones left out)."""
        out: dict[str, float] = {
            "exams": self.exams,
            "positive_exams": self.positive_exams,
            "images": self.images,
            "lesions": self.lesions,
            "predictions": self.predictions,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "sensitivity": self.sensitivity,
            "fp_per_image": self.fp_per_image,
            "froc_score": self.froc_score,
            "exam_auc": self.exam_auc,
            **{f"froc_sensitivity_at_{rate:g}_fp".replace(".", "_"): value for rate, value in self.froc.items()},
        }
        return {k: float(v) for k, v in out.items() if not math.isnan(float(v))}

    def as_json(self) -> dict[str, Any]:
        """Everything, including the curve, as JSON-ready values (NaN as null)."""
        curve = self.curve
        figures = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}
        figures["froc"] = {f"{k:g}": v for k, v in self.froc.items()}
        figures["curve"] = (
            None
            if curve is None
            else {
                "thresholds": [None if math.isinf(t) else float(t) for t in curve.thresholds],
                "fps_per_image": curve.fps_per_image.tolist(),
                "sensitivity": curve.sensitivity.tolist(),
            }
        )
        return figures


def _boxes(frame: pd.DataFrame) -> np.ndarray:
    return frame[BOX_COLUMNS].to_numpy(dtype=np.float64).reshape(-1, 4)


def hit_pairs(predictions: pd.DataFrame, lesions: pd.DataFrame, criterion: HitCriterion) -> tuple[Any, Any]:
    """(prediction row, lesion row) positions of every hit, by joining boxes on their image (no Python loop)."""
    pairs = (
        predictions[["image_id"]]
        .assign(p=np.arange(len(predictions)))
        .merge(lesions[["image_id"]].assign(t=np.arange(len(lesions))), on="image_id")
    )
    p_idx, t_idx = pairs["p"].to_numpy(), pairs["t"].to_numpy()
    hit = box_hits(_boxes(predictions)[p_idx], _boxes(lesions)[t_idx], criterion)
    return p_idx[hit], t_idx[hit]


def score_lesion_frames(
    predictions: pd.DataFrame, lesions: pd.DataFrame, num_images: int, criterion: HitCriterion
) -> LesionScores:
    """Best hit score per lesion (0 when missed) and the scores of the predictions that hit nothing."""
    p_hit, t_hit = hit_pairs(predictions, lesions, criterion)
    scores = predictions["score"].to_numpy(dtype=np.float64)
    lesion_scores = np.zeros(len(lesions))
    np.maximum.at(lesion_scores, t_hit, scores[p_hit])
    hit_any = np.zeros(len(predictions), dtype=bool)
    hit_any[p_hit] = True
    return LesionScores(lesion_scores, scores[~hit_any], num_images)


def _operating_point(predictions: pd.DataFrame, lesions: pd.DataFrame, options: FeedbackOptions) -> tuple[int, int]:
    """True positives (lesions hit) and false positives counting only boxes at or above the threshold."""
    kept = predictions[predictions["score"].to_numpy(dtype=np.float64) >= options.operating_threshold]
    kept = kept.reset_index(drop=True)
    p_hit, t_hit = hit_pairs(kept, lesions, options.criterion)
    return len(np.unique(t_hit)), len(kept) - len(np.unique(p_hit))


def positive_assessment(assessment: str) -> bool:
    """BI-RADS 4, 4A-4C, 5 and 6 are positive; 0-3 and anything unreadable are not."""
    digits = "".join(c for c in str(assessment)[:1] if c.isdigit())
    return bool(digits) and int(digits) >= 4


def _auc(exams: pd.DataFrame) -> float:
    scored = exams.dropna(subset=["exam_score"])
    positive = scored["positive"].to_numpy(dtype=bool)
    if positive.all() or not positive.any():
        return math.nan
    return exam_auc(scored["exam_score"].to_numpy(dtype=np.float64), positive)


def detection_feedback(
    images: pd.DataFrame,
    predictions: pd.DataFrame,
    lesions: pd.DataFrame,
    exams: pd.DataFrame,
    options: FeedbackOptions | None = None,
) -> DetectionFeedback:
    """Lesion sensitivity, FP per image, FROC and exam AUC from the four frames (see the module docstring)."""
    options = options or FeedbackOptions()
    seen = set(images["image_id"])
    predictions = predictions[predictions["image_id"].isin(seen)]
    lesions = lesions[lesions["image_id"].isin(seen)]
    predictions = predictions.reset_index(drop=True)
    lesions = lesions.reset_index(drop=True)
    scored = score_lesion_frames(predictions, lesions, len(images), options.criterion)
    tp, fp = _operating_point(predictions, lesions, options)
    curve = froc_curve(scored) if len(lesions) and len(images) else None
    froc = curve.sensitivity_at(options.fp_rates) if curve is not None else {}
    return DetectionFeedback(
        exams=len(exams),
        positive_exams=int(exams["positive"].sum()),
        images=len(images),
        lesions=len(lesions),
        predictions=len(predictions),
        true_positives=tp,
        false_positives=fp,
        sensitivity=tp / len(lesions) if len(lesions) else math.nan,
        fp_per_image=fp / len(images) if len(images) else math.nan,
        froc=froc,
        froc_score=float(np.mean(list(froc.values()))) if froc else math.nan,
        exam_auc=_auc(exams),
        curve=curve,
    )
