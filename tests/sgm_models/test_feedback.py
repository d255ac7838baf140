"""Feedback figures on hand-made cases with known hits, false positives and review outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from detection.froc import HitCriterion, ImagePredictions, froc_curve, score_lesions
from sgm_models.feedback import FeedbackOptions, detection_feedback, positive_assessment
from sgm_models.feedback_review import ReviewOptions, review_counts, review_outcomes

LESION = (100.0, 100.0, 200.0, 200.0)


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two exams, three images: image 1 has one lesion hit twice plus a far FP; image 2 a missed lesion."""
    images = pd.DataFrame({"image_id": [1, 2, 3], "exam_id": [10, 10, 20]})
    cols = ["image_id", "x_min", "y_min", "x_max", "y_max", "score"]
    predictions = pd.DataFrame(
        [
            (1, 110, 110, 190, 190, 0.9),  # hits the lesion
            (1, 120, 120, 180, 180, 0.6),  # hits it again: neither TP nor FP
            (1, 900, 900, 950, 950, 0.7),  # far away: a false positive
            (2, 10, 10, 30, 30, 0.3),  # misses image 2's lesion: false positive
            (3, 150, 150, 160, 160, 0.2),  # no lesion on image 3: false positive, though it sits where image 1's is
        ],
        columns=cols,
    )
    lesions = pd.DataFrame([(1, *LESION), (2, 500, 500, 600, 600)], columns=cols[:5])
    exams = pd.DataFrame({"exam_id": [10, 20], "exam_score": [0.8, 0.4], "positive": [True, False]})
    return images, predictions, lesions, exams


def test_hits_count_once_and_far_boxes_are_false_positives() -> None:
    result = detection_feedback(*_frames())
    assert (result.lesions, result.true_positives, result.false_positives) == (2, 1, 3)
    assert result.sensitivity == 0.5
    assert result.fp_per_image == 1.0
    assert result.exam_auc == 1.0
    assert result.images == 3 and result.exams == 2 and result.positive_exams == 1


def test_froc_matches_the_per_image_reference() -> None:
    images, predictions, lesions, exams = _frames()
    result = detection_feedback(images, predictions, lesions, exams)
    per_image = [
        ImagePredictions(
            [tuple(r) for r in predictions[predictions.image_id == i][["x_min", "y_min", "x_max", "y_max"]].values],
            list(predictions[predictions.image_id == i]["score"]),
            [tuple(r) for r in lesions[lesions.image_id == i][["x_min", "y_min", "x_max", "y_max"]].values],
        )
        for i in (1, 2, 3)
    ]
    reference = froc_curve(score_lesions(per_image))
    assert result.curve is not None
    np.testing.assert_allclose(result.curve.fps_per_image, reference.fps_per_image)
    np.testing.assert_allclose(result.curve.sensitivity, reference.sensitivity)
    assert result.froc == reference.sensitivity_at()
    # 0.9 is the best hit: at threshold 0.9 no FP, half the lesions found.
    assert result.froc[0.25] == 0.5


def test_operating_threshold_drops_low_boxes() -> None:
    result = detection_feedback(*_frames(), FeedbackOptions(operating_threshold=0.65))
    assert (result.true_positives, result.false_positives) == (1, 1)


def test_iou_criterion_changes_the_hits() -> None:
    images, predictions, lesions, exams = _frames()
    strict = detection_feedback(images, predictions, lesions, exams, FeedbackOptions(HitCriterion("iou", 0.7)))
    # IoU of the 0.9 box is 0.64, of the 0.6 box 0.36: no hit, so all five boxes are false positives.
    assert (strict.true_positives, strict.false_positives) == (0, 5)
    loose = detection_feedback(images, predictions, lesions, exams, FeedbackOptions(HitCriterion("iou", 0.3)))
    assert (loose.true_positives, loose.false_positives) == (1, 3)


def test_without_lesions_or_one_class_the_undefined_figures_are_nan() -> None:
    images, predictions, _, exams = _frames()
    lesions = pd.DataFrame(columns=["image_id", "x_min", "y_min", "x_max", "y_max"])
    result = detection_feedback(images, predictions, lesions, exams.assign(positive=False))
    assert math.isnan(result.sensitivity) and math.isnan(result.exam_auc) and result.curve is None
    assert result.false_positives == 5
    assert "sensitivity" not in result.metrics() and result.metrics()["fp_per_image"] == 5 / 3
    assert result.as_json()["exam_auc"] is None


def test_metrics_are_flat_and_named_for_mlflow() -> None:
    metrics = detection_feedback(*_frames()).metrics()
    assert metrics["froc_sensitivity_at_0_25_fp"] == 0.5
    assert {"sensitivity", "fp_per_image", "exam_auc", "froc_score", "froc_sensitivity_at_8_fp"} <= set(metrics)


@pytest.mark.parametrize(
    ("assessment", "positive"),
    [("4A", True), ("4", True), ("5", True), ("6", True), ("3", False), ("0", False), ("", False)],
)
def test_positive_assessment(assessment: str, positive: bool) -> None:
    assert positive_assessment(assessment) is positive


def _review(rows: list[tuple[int, int, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["read_id", "image_id", "x_min", "y_min", "x_max", "y_max"])


def test_review_accept_edit_reject_and_added() -> None:
    shown = _review(
        [
            (1, 1, 100, 100, 200, 200),  # kept (tiny rounding): accepted
            (1, 1, 300, 300, 400, 400),  # resized: edited
            (1, 1, 700, 700, 800, 800),  # deleted: rejected
            (2, 1, 100, 100, 200, 200),  # the same box in another read, where the reader removed it: rejected
        ]
    )
    drawn = _review(
        [
            (1, 1, 100.4, 100.2, 200.3, 199.9),
            (1, 1, 300, 300, 360, 380),
            (1, 1, 1000, 1000, 1100, 1100),  # drawn by the reader: added
            (2, 2, 100, 100, 200, 200),  # same place on another image: no pairing across images
        ]
    )
    assert list(review_outcomes(shown, drawn)) == ["accepted", "edited", "rejected", "rejected"]
    counts = review_counts(shown, drawn)
    assert (counts.reads, counts.shown, counts.accepted, counts.edited, counts.rejected, counts.added) == (
        2, 4, 1, 1, 2, 2,
    )  # fmt: skip
    assert counts.metrics()["accepted_rate"] == 0.25


def test_review_pairs_one_to_one_greedily() -> None:
    # Two predictions on one lesion, the reader kept one box: one accepted, the duplicate rejected.
    shown = _review([(1, 1, 100, 100, 200, 200), (1, 1, 105, 105, 200, 200)])
    drawn = _review([(1, 1, 100, 100, 200, 200)])
    assert list(review_outcomes(shown, drawn)) == ["accepted", "rejected"]


def test_review_options_are_checked() -> None:
    with pytest.raises(ValueError, match="edit IoU"):
        ReviewOptions(accept_iou=0.5, edit_iou=0.6)
    empty = _review([])
    assert review_counts(empty, empty).metrics() == {
        "reviewed_reads": 0.0, "boxes_shown": 0.0, "boxes_accepted": 0.0, "boxes_edited": 0.0,
        "boxes_rejected": 0.0, "boxes_added": 0.0,
    }  # fmt: skip
