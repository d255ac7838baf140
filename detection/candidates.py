"""Candidate lesions on a downsampled mammogram: difference-of-Gaussians maxima inside the breast, and their features.

Everything runs on a small working image (long side `work_long_side`), so a full-size mammogram costs a few
milliseconds and the scales below mean the same anatomy whatever the detector was handed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage

# DoG scales in working pixels: calcification clusters and small masses at 1.5-3, large masses at 6-8.
SCALES: tuple[float, ...] = (1.5, 3.0, 5.0, 8.0)
DOG_RATIO = 1.6
FloatImage = NDArray[np.float32]


@dataclass(frozen=True)
class WorkImage:
    """A mammogram normalised to [0, 1] at working size, its breast mask and the scale back to the input."""

    pixels: FloatImage
    mask: NDArray[np.bool_]
    scale: float  # input pixels per working pixel


@dataclass(frozen=True)
class Candidates:
    """Candidate centres (working pixels), their scale, and one feature row each."""

    xy: NDArray[np.float64]  # (n, 2) x, y
    sigma: NDArray[np.float64]
    features: NDArray[np.float32]


def working_image(pixels: NDArray[np.generic], work_long_side: int) -> WorkImage:
    """Downsample (area averaging), stretch the breast's intensities to [0, 1] and find the breast."""
    height, width = pixels.shape[:2]
    scale = max(height, width) / work_long_side
    size = (max(1, round(width / scale)), max(1, round(height / scale)))
    small = np.asarray(Image.fromarray(pixels.astype(np.float32)).resize(size, Image.Resampling.BOX))
    low, high = float(small.min()), float(np.percentile(small, 99.9))
    norm = np.clip((small - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)
    # The background is flat and dark: anything clearly above it, filled and with small specks removed.
    mask = ndimage.gaussian_filter(norm, 2.0) > 0.08
    mask = ndimage.binary_opening(ndimage.binary_fill_holes(mask), iterations=2)
    return WorkImage(norm, np.asarray(mask, dtype=bool), scale)


def _dog_stack(image: FloatImage) -> NDArray[np.float32]:
    return np.stack(
        [ndimage.gaussian_filter(image, s) - ndimage.gaussian_filter(image, s * DOG_RATIO) for s in SCALES]
    ).astype(np.float32)


def find_candidates(work: WorkImage, max_candidates: int) -> Candidates:
    """The strongest local maxima of the DoG response over scales, inside the eroded breast."""
    dog = _dog_stack(work.pixels)
    normalised = dog * np.asarray(SCALES, dtype=np.float32)[:, None, None]  # scale-normalised responses
    best = normalised.max(axis=0)
    peaks = (best == ndimage.maximum_filter(best, size=5)) & (best > 0)
    peaks &= ndimage.binary_erosion(work.mask, iterations=2)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-best[ys, xs], kind="stable")[:max_candidates]
    ys, xs = ys[order], xs[order]
    sigma = np.asarray(SCALES)[normalised[:, ys, xs].argmax(axis=0)] if len(ys) else np.zeros(0)
    xy = np.stack([xs, ys], axis=1).astype(np.float64) if len(ys) else np.zeros((0, 2))
    return Candidates(xy, sigma, _features(work, dog, xs, ys))


def _features(work: WorkImage, dog: NDArray[np.float32], xs: NDArray[np.intp], ys: NDArray[np.intp]) -> FloatImage:
    """Per candidate: DoG at every scale, local intensity statistics against the breast, and position."""
    image = work.pixels
    inside = image[work.mask] if work.mask.any() else image.ravel()
    breast_mean, breast_std = float(inside.mean()), float(inside.std()) + 1e-6
    local_mean = [ndimage.uniform_filter(image, size)[ys, xs] for size in (3, 9, 21)]
    local_sq = ndimage.uniform_filter(image * image, 9)[ys, xs]
    local_std = np.sqrt(np.clip(local_sq - local_mean[1] ** 2, 0, None))
    tophat = ndimage.white_tophat(image, size=5)
    spots = ndimage.uniform_filter((tophat > 0.08).astype(np.float32), 15)[ys, xs]
    distance = ndimage.distance_transform_edt(work.mask)
    height, width = image.shape
    columns = [
        *(dog[k, ys, xs] for k in range(len(dog))),
        *((m - breast_mean) / breast_std for m in local_mean),
        local_mean[0] - local_mean[2],
        local_std,
        tophat[ys, xs],
        spots,
        distance[ys, xs] / max(height, width),
        ys / height,
        np.full(len(ys), breast_mean),
    ]
    return np.stack(columns, axis=1).astype(np.float32) if len(ys) else np.zeros((0, len(columns)), np.float32)
