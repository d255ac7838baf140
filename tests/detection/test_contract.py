"""The detector contract: images survive the trip as PNG, and malformed output is refused with the reason."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from detection.contract import (
    ImageResult,
    MalformedOutput,
    ModelImage,
    PredictedBox,
    decode_png,
    input_frame,
    output_frame,
    parse_output,
)
from sgm_models.predictions import well_formed_box

SENT = [("a", 100, 80), ("b", 100, 80)]


def _good() -> pd.DataFrame:
    box = PredictedBox(10, 20, 30, 40, 0.9, "mass")
    return output_frame([ImageResult("a", (box,), 0.9, 0.9), ImageResult("b", (), 0.1, 0.9)])


def test_pixels_round_trip_through_the_input_frame() -> None:
    pixels = (np.arange(80 * 100, dtype=np.uint16).reshape(80, 100) * 7) % 4096
    frame = input_frame([ModelImage("a", "e", "L", "CC", pixels)])
    assert list(frame.columns) == ["image_id", "exam_id", "laterality", "view", "image"]
    assert np.array_equal(decode_png(frame.loc[0, "image"]), pixels)


def test_a_good_output_is_parsed_in_order() -> None:
    results = parse_output(_good(), SENT)
    assert [r.image_id for r in results] == ["a", "b"]
    assert results[0].boxes == (PredictedBox(10, 20, 30, 40, 0.9, "mass"),)
    assert results[1].boxes == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["boxes"]), "lacks the columns boxes"),
        (lambda f: f.iloc[:1], "1 rows for 2 images"),
        (lambda f: f.assign(image_id=["b", "a"]), "returned image 'b' where 'a'"),
        (lambda f: f.assign(boxes=["{not json", "[]"]), "boxes are not JSON"),
        (lambda f: f.assign(boxes=['{"x_min": 1}', "[]"]), "boxes are not a list"),
        (lambda f: f.assign(image_score=[1.5, 0.1]), "image score 1.5"),
        (lambda f: f.assign(exam_score=[float("nan"), 0.1]), "exam score nan"),
    ],
)
def test_malformed_output_is_refused_with_the_reason(
    change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    with pytest.raises(MalformedOutput, match=message):
        parse_output(change(_good()), SENT)


@pytest.mark.parametrize(
    "box",
    [
        {"x_min": 10, "y_min": 20, "x_max": 130, "y_max": 40, "score": 0.5},  # beyond the image
        {"x_min": 30, "y_min": 20, "x_max": 10, "y_max": 40, "score": 0.5},  # inverted
        {"x_min": 10, "y_min": 20, "x_max": 30, "y_max": 40, "score": -0.1},  # score out of range
        {"x_min": "a", "y_min": 20, "x_max": 30, "y_max": 40, "score": 0.5},  # not a number
        {"y_min": 20, "x_max": 30, "y_max": 40, "score": 0.5},  # missing coordinate
        {"x_min": "10", "y_min": 20, "x_max": 30, "y_max": 40, "score": 0.5},  # a number written as text
        {"x_min": True, "y_min": 20, "x_max": 30, "y_max": 40, "score": 0.5},  # a boolean
        {"x_min": 10, "y_min": 20, "x_max": 10, "y_max": 40, "score": 0.5},  # no area
        {"x_min": 10, "y_min": 20, "x_max": 30, "y_max": 40, "score": None},  # no score
        [1, 2, 3, 4],
    ],
)
def test_a_bad_box_is_refused_and_skipped_when_read_back(box: object) -> None:
    frame = _good().assign(boxes=[json.dumps([box]), "[]"])
    with pytest.raises(MalformedOutput):
        parse_output(frame, SENT)
    # The same rule reads stored boxes back (a database writer's edit), skipping instead of refusing; only
    # the image size is unknown there.
    beyond_the_image = isinstance(box, dict) and box.get("x_max") == 130
    assert (well_formed_box(box) is not None) == beyond_the_image


def test_a_non_table_is_refused() -> None:
    with pytest.raises(MalformedOutput, match="returned list"):
        parse_output([1, 2], SENT)
