"""The baseline detector on hand-made images: it learns bright blobs, finds them, and is deterministic."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.baseline import BaselineConfig, BaselineDetector, UntrainableError, brightest_spot, exam_scores

SIZE = (320, 256)  # rows, columns


def _breast(rng: np.random.Generator) -> NDArray[np.float64]:
    """A half-ellipse of textured tissue against a dark background, chest wall on the left."""
    rows, cols = SIZE
    y, x = np.mgrid[0:rows, 0:cols]
    inside = ((y - rows / 2) / (0.45 * rows)) ** 2 + (x / (0.7 * cols)) ** 2 < 1
    texture = 0.35 + 0.05 * rng.standard_normal(SIZE)
    return np.where(inside, texture, 0.0)


def _image(rng: np.random.Generator, blob: bool) -> tuple[NDArray[np.uint8], list[tuple[float, float, float, float]]]:
    pixels = _breast(rng)
    boxes = []
    # A distractor every image has: a broad bright band, unlike a compact blob.
    pixels[40:60, 20:120] += 0.1
    if blob:
        cx, cy, r = rng.uniform(50, 120), rng.uniform(110, 210), rng.uniform(6, 10)
        y, x = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
        pixels += 0.35 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        boxes.append((cx - 1.5 * r, cy - 1.5 * r, cx + 1.5 * r, cy + 1.5 * r))
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8), boxes


def _set(seed: int, n: int) -> tuple[list[NDArray[np.uint8]], list[list[tuple[float, float, float, float]]]]:
    rng = np.random.default_rng(seed)
    pairs = [_image(rng, blob=k % 2 == 0) for k in range(n)]
    return [p for p, _ in pairs], [b for _, b in pairs]


def test_it_learns_and_finds_a_bright_blob() -> None:
    images, boxes = _set(1, 16)
    detector = BaselineDetector(BaselineConfig(iterations=40, seed=3)).fit(images, boxes)
    test_images, test_boxes = _set(2, 6)
    for pixels, truth in zip(test_images, test_boxes, strict=True):
        found = detector.predict(pixels)
        assert all(0 <= b.x_min < b.x_max <= SIZE[1] and 0 <= b.y_min < b.y_max <= SIZE[0] for b in found.boxes)
        assert [b.score for b in found.boxes] == sorted((b.score for b in found.boxes), reverse=True)
        if truth:
            top = found.boxes[0]
            x, y = (top.x_min + top.x_max) / 2, (top.y_min + top.y_max) / 2
            assert truth[0][0] <= x <= truth[0][2] and truth[0][1] <= y <= truth[0][3]
            assert top.score > 0.3
    with_blob = [detector.predict(p).image_score for p, t in zip(test_images, test_boxes, strict=True) if t]
    without = [detector.predict(p).image_score for p, t in zip(test_images, test_boxes, strict=True) if not t]
    assert min(with_blob) > max(without)


def test_same_seed_same_detector_16_bit_input_too() -> None:
    images, boxes = _set(4, 8)
    wide = [p.astype(np.uint16) * 257 for p in images]
    a = BaselineDetector(BaselineConfig(iterations=20, seed=7)).fit(images, boxes).predict(images[0])
    b = BaselineDetector(BaselineConfig(iterations=20, seed=7)).fit(wide, boxes).predict(wide[0])
    assert a == b


def test_nothing_to_learn_is_refused_and_odd_images_do_not_crash() -> None:
    images, _ = _set(5, 4)
    try:
        BaselineDetector().fit(images, [[] for _ in images])
    except UntrainableError as exc:
        assert "nothing to learn" in str(exc)
    else:
        raise AssertionError("training without lesions must be refused")
    trained_images, boxes = _set(6, 8)
    detector = BaselineDetector(BaselineConfig(iterations=10)).fit(trained_images, boxes)
    for odd in (np.zeros((50, 40), np.uint8), np.full((7, 3000), 255, np.uint8), np.zeros((1, 1), np.uint16)):
        found = detector.predict(odd)
        assert 0.0 <= found.image_score <= 1.0


def test_the_trivial_baseline_and_exam_scores() -> None:
    pixels, _ = _image(np.random.default_rng(0), blob=True)
    spot = brightest_spot(pixels)
    assert len(spot.boxes) == 1 and 0 <= spot.image_score <= 1
    assert exam_scores(["a", "b", "a"], [0.2, 0.5, 0.7]) == [0.7, 0.5, 0.7]
