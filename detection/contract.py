"""The detector contract: what every mammography model takes and returns, in-process or over `/invocations`.

A detector is an MLflow pyfunc model. Its input is a DataFrame with one row per image; its output is a
DataFrame with one row per input image, in the same order. Only scalar columns, so the same frames travel
as MLflow's `dataframe_split` JSON to a remote server and back.

Input columns:
    image_id   str    the caller's id for the image (returned unchanged)
    exam_id    str    images with the same exam id belong to one exam (one screening study)
    laterality str    "L" or "R"
    view       str    "CC" or "MLO" (others allowed; a model may ignore them)
    image      str    base64 of a grayscale PNG (8- or 16-bit), at most the model's `input_long_side`
Output columns:
    image_id   str    as given
    boxes      str    JSON list of {"x_min","y_min","x_max","y_max","score","label"} in pixels of the image sent
    image_score float suspicion of this image in [0, 1]
    exam_score float  suspicion of the whole exam in [0, 1] (the same value on every row of one exam)

Callers resize to the model's `input_long_side` (a model metadata field) before encoding and scale the boxes
back to DICOM pixels; boxes outside the image sent, scores outside [0, 1] or missing rows make the output
malformed, and `parse_output` refuses it.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from PIL import Image

INPUT_COLUMNS: tuple[str, ...] = ("image_id", "exam_id", "laterality", "view", "image")
OUTPUT_COLUMNS: tuple[str, ...] = ("image_id", "boxes", "image_score", "exam_score")
DEFAULT_INPUT_LONG_SIDE = 1024


BOX_KEYS = ("x_min", "y_min", "x_max", "y_max")


class MalformedOutput(ValueError):
    """A model's output breaks the contract; the message says how."""


@dataclass(frozen=True)
class PredictedBox:
    """One box in pixels of the image it was predicted on (x_max/y_max exclusive)."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float
    score: float
    label: str = "lesion"

    def scaled(self, factor_x: float, factor_y: float) -> PredictedBox:
        return PredictedBox(
            self.x_min * factor_x, self.y_min * factor_y, self.x_max * factor_x, self.y_max * factor_y,
            self.score, self.label,
        )  # fmt: skip

    def as_dict(self) -> dict[str, float | str]:
        return {
            "x_min": self.x_min, "y_min": self.y_min, "x_max": self.x_max, "y_max": self.y_max,
            "score": self.score, "label": self.label,
        }  # fmt: skip


@dataclass(frozen=True)
class ImageResult:
    """The model's answer for one image."""

    image_id: str
    boxes: tuple[PredictedBox, ...]
    image_score: float
    exam_score: float


@dataclass(frozen=True)
class ModelImage:
    """One image as a caller hands it to a model."""

    image_id: str
    exam_id: str
    laterality: str
    view: str
    pixels: NDArray[np.uint8] | NDArray[np.uint16]


def encode_png(pixels: NDArray[np.uint8] | NDArray[np.uint16]) -> str:
    """Base64 of a grayscale PNG; fast compression because transport, not size, is the cost here."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_png(text: str) -> NDArray[np.uint16]:
    """The pixels of an encoded image as uint16 (8-bit images keep their 0..255 values)."""
    with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as image:
        return np.asarray(image).astype(np.uint16, copy=False)


def input_frame(images: Sequence[ModelImage]) -> pd.DataFrame:
    rows = [(i.image_id, i.exam_id, i.laterality, i.view, encode_png(i.pixels)) for i in images]
    return pd.DataFrame(rows, columns=list(INPUT_COLUMNS))


def output_frame(results: Sequence[ImageResult]) -> pd.DataFrame:
    rows = [
        (r.image_id, json.dumps([b.as_dict() for b in r.boxes]), float(r.image_score), float(r.exam_score))
        for r in results
    ]
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def _unit(value: object, what: str) -> float:
    number = _finite(value, what)
    if not 0.0 <= number <= 1.0:
        raise MalformedOutput(f"{what} {value!r} is not a score in [0, 1]")
    return number


def _finite(value: object, what: str) -> float:
    # bool is an int subclass and a numeric string is text: neither is a coordinate or a score.
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise MalformedOutput(f"{what} {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise MalformedOutput(f"{what} {value!r} is not a finite number")
    return number


def checked_box(raw: object, what: str, size: tuple[int, int] | None = None) -> PredictedBox:
    """The box of one output item: finite pixel coordinates spanning a positive area (inside the image when its
    (width, height) is given), a score in [0, 1]; MalformedOutput says what is wrong. The one rule for boxes
    a model returns and boxes read back from the EMR."""
    if not isinstance(raw, dict):
        raise MalformedOutput(f"{what}: a box is {type(raw).__name__}, not an object")
    missing = [k for k in (*BOX_KEYS, "score") if k not in raw]
    if missing:
        raise MalformedOutput(f"{what}: box {raw!r} lacks {', '.join(missing)}")
    x_min, y_min, x_max, y_max = (_finite(raw[k], f"{what}: box {k}") for k in BOX_KEYS)
    label = raw.get("label", "lesion")  # a label that is not text is dropped, not the box: it is only a caption
    box = PredictedBox(
        x_min,
        y_min,
        x_max,
        y_max,
        _unit(raw["score"], f"{what}: box score"),
        label if isinstance(label, str) else "",
    )
    if not (x_min < x_max and y_min < y_max):
        raise MalformedOutput(f"{what}: box {raw!r} spans no area")
    if size is not None and not (x_min >= 0 and y_min >= 0 and x_max <= size[0] and y_max <= size[1]):
        raise MalformedOutput(f"{what}: box {raw!r} is not inside the {size[0]}x{size[1]} image")
    return box


def parse_output(frame: object, sent: Sequence[tuple[str, int, int]]) -> list[ImageResult]:
    """Check a model's output against the images sent, as (image_id, width, height), in order."""
    if not isinstance(frame, pd.DataFrame):
        raise MalformedOutput(f"the model returned {type(frame).__name__}, not a table")
    missing = [c for c in OUTPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise MalformedOutput(f"the model's output lacks the columns {', '.join(missing)}")
    if len(frame) != len(sent):
        raise MalformedOutput(f"the model returned {len(frame)} rows for {len(sent)} images")
    results: list[ImageResult] = []
    for row, (image_id, width, height) in zip(frame.itertuples(index=False), sent, strict=True):
        if str(row.image_id) != image_id:
            raise MalformedOutput(f"the model returned image {row.image_id!r} where {image_id!r} was sent")
        try:
            raw_boxes = json.loads(str(row.boxes))
        except json.JSONDecodeError:
            raise MalformedOutput(f"image {image_id}: boxes are not JSON") from None
        if not isinstance(raw_boxes, list):
            raise MalformedOutput(f"image {image_id}: boxes are not a list")
        boxes = tuple(checked_box(b, f"image {image_id}", (width, height)) for b in raw_boxes)
        image_score = _unit(row.image_score, f"image {image_id}: image score")
        exam_score = _unit(row.exam_score, f"image {image_id}: exam score")
        results.append(ImageResult(image_id, boxes, image_score, exam_score))
    return results
