"""A dataset version's images as a detector sees them: pixels at most `input_long_side`, lesion boxes alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from PIL import Image

from detection.contract import ModelImage
from detection.froc import Box


@dataclass(frozen=True)
class LabelledImage:
    """One image of a split with the final read's lesion boxes, in pixels of `image.pixels`."""

    image: ModelImage
    lesions: tuple[Box, ...]


def _pixels(path: Path, long_side: int) -> tuple[NDArray[np.uint8], float]:
    """The PNG, shrunk when longer than the model takes; returns the factor applied."""
    with Image.open(path) as png:
        factor = min(1.0, long_side / max(png.size))
        size = (max(1, round(png.width * factor)), max(1, round(png.height * factor)))
        return np.asarray(png.resize(size) if factor < 1.0 else png), factor


def _lesions(findings: str, factor_x: float, factor_y: float) -> tuple[Box, ...]:
    boxes = json.loads(findings)
    return tuple(
        (b["xmin"] * factor_x, b["ymin"] * factor_y, b["xmax"] * factor_x, b["ymax"] * factor_y) for b in boxes
    )


def split_images(manifest: pd.DataFrame, root: Path, split: str, long_side: int) -> list[LabelledImage]:
    """The images of one split (train/val/test), ordered as in the manifest; exams are studies."""
    rows = manifest[manifest["split"] == split]
    images = []
    for row in rows.itertuples(index=False):
        pixels, factor = _pixels(root / str(row.png_path), long_side)
        # Findings are in DICOM pixels; the PNG is the DICOM resized to png_width x png_height.
        fx = factor * int(row.png_width) / int(row.width)
        fy = factor * int(row.png_height) / int(row.height)
        image = ModelImage(str(row.image_id), str(row.study_id), str(row.laterality), str(row.view), pixels)
        images.append(LabelledImage(image, _lesions(str(row.findings), fx, fy)))
    return images
