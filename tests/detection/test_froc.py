"""FROC and exam AUC: hand-made cases, then the same data through independent reference implementations."""

from __future__ import annotations

import numpy as np
import pytest

from detection.froc import HitCriterion, ImagePredictions, exam_auc, froc_curve, hit_matrix, score_lesions
from tests.conftest import require_peer

LESION = (100.0, 100.0, 200.0, 200.0)


def test_centre_criterion_hits_inside_and_misses_far_away() -> None:
    hits = hit_matrix([(140, 140, 160, 160), (900, 900, 950, 950), (180, 180, 260, 260)], [LESION], HitCriterion())
    assert hits[:, 0].tolist() == [True, False, False]  # the third box's centre (220, 220) is outside


def test_iou_criterion_needs_overlap() -> None:
    criterion = HitCriterion("iou", 0.5)
    hits = hit_matrix([(100, 100, 200, 200), (150, 150, 250, 250)], [LESION], criterion)
    assert hits[:, 0].tolist() == [True, False]  # IoU 1.0 and 2500/17500


def test_several_hits_on_one_lesion_count_once_and_far_boxes_are_false_positives() -> None:
    image = ImagePredictions(
        boxes=[(120, 120, 180, 180), (110, 110, 190, 190), (800, 800, 900, 900)],
        scores=[0.9, 0.6, 0.8],
        lesions=[LESION],
    )
    scored = score_lesions([image])
    assert scored.lesion_scores.tolist() == [0.9]
    assert scored.false_positive_scores.tolist() == [0.8]  # the second hit is neither TP nor FP


def test_a_far_prediction_is_a_false_positive_under_either_criterion() -> None:
    far = ImagePredictions(boxes=[(1000, 1000, 1100, 1100)], scores=[0.99], lesions=[LESION])
    for criterion in (HitCriterion(), HitCriterion("iou", 0.01)):
        scored = score_lesions([far], criterion)
        assert scored.lesion_scores.tolist() == [0.0]
        assert scored.false_positive_scores.tolist() == [0.99]


def test_froc_on_a_hand_computed_case() -> None:
    images = [
        ImagePredictions([(120, 120, 180, 180), (0, 0, 10, 10)], [0.9, 0.3], [LESION]),
        ImagePredictions([(0, 0, 10, 10)], [0.7], [LESION]),  # a missed lesion and a confident FP
    ]
    curve = froc_curve(score_lesions(images))
    # thresholds 0.3, 0.7, 0.9 (0.0, the missed lesion, is the lowest score and not a threshold) then above all
    assert curve.thresholds.tolist() == [0.3, 0.7, 0.9, np.inf]
    assert curve.fps_per_image.tolist() == [1.0, 0.5, 0.0, 0.0]
    assert curve.sensitivity.tolist() == [0.5, 0.5, 0.5, 0.0]
    assert curve.sensitivity_at((0.25, 0.5, 1.0, 2.0)) == {0.25: 0.5, 0.5: 0.5, 1.0: 0.5, 2.0: 0.5}


def test_mismatched_boxes_and_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        score_lesions([ImagePredictions([LESION, LESION], [0.5], [LESION])])


def _random_images(rng: np.random.Generator, count: int) -> list[ImagePredictions]:
    images = []
    for _ in range(count):
        lesions = [(x, y, x + 80, y + 80) for x, y in rng.uniform(0, 900, size=(rng.integers(0, 3), 2))]
        centres = rng.uniform(0, 1000, size=(rng.integers(0, 6), 2))
        boxes = [(x - 30, y - 30, x + 30, y + 30) for x, y in centres]
        for lx, ly, _, _ in lesions:  # most lesions get a nearby prediction
            if rng.random() < 0.7:
                boxes.append((lx + 10, ly + 10, lx + 70, ly + 70))
        images.append(ImagePredictions(boxes, rng.random(len(boxes)).round(3).tolist(), lesions))
    return images


def test_froc_equals_monai_on_the_same_data() -> None:
    try:
        from monai.metrics import froc as monai_froc
    except ImportError:
        require_peer(False, "MONAI (the test-only FROC reference, extra `reference`) is not installed")
    images = _random_images(np.random.default_rng(7), 300)
    scored = score_lesions(images)
    ours = froc_curve(scored)
    fps, sensitivity = monai_froc.compute_froc_curve_data(
        scored.false_positive_scores, scored.lesion_scores, len(scored.lesion_scores), scored.num_images
    )
    np.testing.assert_allclose(ours.fps_per_image, fps)
    np.testing.assert_allclose(ours.sensitivity, sensitivity)
    reference = monai_froc.compute_froc_score(fps, sensitivity)
    assert ours.score() == pytest.approx(float(reference))


def test_exam_auc_equals_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.random(500) < 0.2
    scores = np.round(rng.random(500) + labels * 0.3, 1)  # rounding makes many ties
    assert exam_auc(scores.tolist(), labels.tolist()) == pytest.approx(roc_auc_score(labels, scores))
    with pytest.raises(ValueError, match="positive and negative"):
        exam_auc([0.1, 0.2], [False, False])
