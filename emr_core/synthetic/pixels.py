"""Fast numpy synthesis of mammogram-like images with masses and calcifications."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from emr_core.vocabulary.dicom import ViewPosition

# Texture is built on a fixed anatomical grid so it does not depend on the matrix size.
GRID_ROWS, GRID_COLS = 80, 64
# Fraction of glandular texture kept per BI-RADS composition (threshold on the texture).
COMPOSITION_THRESHOLD: dict[str, float] = {"a": 1.1, "b": 0.55, "c": 0.1, "d": -0.4}
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class BreastShape:
    """Breast outline as fractions of the matrix, measured from the chest wall."""

    depth: float  # nipple distance from the chest wall / columns
    center: float  # nipple row / rows
    upper: float  # half height above the nipple / rows
    lower: float  # half height below the nipple / rows
    pectoral_width: float  # 0 on CC views
    pectoral_height: float


@dataclass(frozen=True)
class Mass:
    """A mass blob in image pixel coordinates."""

    cx: float
    cy: float
    radius: float
    elongation: float
    angle: float
    harmonics: tuple[tuple[int, float, float], ...]  # (order, amplitude, phase)
    spikes: int
    edge: float  # soft edge width in pixels
    contrast: float
    fat_core: bool


@dataclass(frozen=True)
class CalcCluster:
    """Calcification dots (and short linear segments) in image pixel coordinates."""

    points: tuple[tuple[float, float], ...]
    dot_radius: float
    linear: bool
    angle: float
    contrast: float


Lesion = Mass | CalcCluster


def random_shape(rng: np.random.Generator, view: str) -> BreastShape:
    """Draw a breast outline; MLO is longer, reaches the axilla and shows the pectoral muscle."""
    if view == ViewPosition.CC:
        return BreastShape(
            float(rng.uniform(0.55, 0.75)),
            float(rng.uniform(0.46, 0.54)),
            half := float(rng.uniform(0.36, 0.44)),
            half,
            0.0,
            0.0,
        )
    return BreastShape(
        float(rng.uniform(0.6, 0.8)),
        float(rng.uniform(0.55, 0.62)),
        float(rng.uniform(0.6, 0.75)),
        float(rng.uniform(0.3, 0.38)),
        float(rng.uniform(0.22, 0.38)),
        float(rng.uniform(0.35, 0.6)),
    )


def chest_x(col: float, columns: int, laterality: str) -> float:
    """Distance from the chest wall: L images have it at column 0, R at the last column."""
    return col if laterality == "L" else columns - 1 - col


def lesion_center(
    shape: BreastShape, rows: int, columns: int, laterality: str, nipple_distance: float, offset: float
) -> tuple[float, float]:
    """Pixel (x, y) at a given fraction of depth from the nipple and a signed vertical offset."""
    a = shape.depth * columns
    xd = a * (1.0 - nipple_distance)
    half = (shape.upper if offset < 0 else shape.lower) * rows
    y = shape.center * rows + offset * 0.75 * half * np.sqrt(max(0.0, 1 - (xd / a) ** 2))
    pw, ph = shape.pectoral_width * columns, shape.pectoral_height * rows
    if pw > 0 and xd / pw + y / ph < 1.15:  # keep lesions out of the pectoral muscle
        y = ph * (1.15 - xd / pw)
    x = xd if laterality == "L" else columns - 1 - xd
    return float(x), float(y)


@lru_cache(maxsize=32)
def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Linear interpolation weights (n_out x n_in), so upsampling is two small matmuls."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, max(n_in - 2, 0))
    frac = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] = 1 - frac
    m[np.arange(n_out), np.minimum(lo + 1, n_in - 1)] += frac
    return m


def upsample(low: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Bilinear upsampling of a small grid to (rows, columns)."""
    return (_interp_matrix(rows, low.shape[0]) @ low) @ _interp_matrix(columns, low.shape[1]).T


def glandular_grid(rng: np.random.Generator, composition: str) -> np.ndarray:
    """Fibroglandular density on the coarse grid: a few noise octaves, thresholded by composition."""
    tex = 0.6 * upsample(rng.standard_normal((5, 4), np.float32), GRID_ROWS, GRID_COLS)
    tex += 0.4 * upsample(rng.standard_normal((14, 11), np.float32), GRID_ROWS, GRID_COLS)
    tex += 0.25 * upsample(rng.standard_normal((40, 32), np.float32), GRID_ROWS, GRID_COLS)
    tex += 0.08 * rng.standard_normal((GRID_ROWS, GRID_COLS), np.float32)
    tex /= max(float(tex.std()), 1e-6)
    return np.clip((tex - COMPOSITION_THRESHOLD[composition]) * 0.45, 0.0, 1.0)


def _mass_patch(m: Mass) -> tuple[int, int, np.ndarray]:
    """Signal added by a mass, on a small patch anchored at (x0, y0)."""
    amp = sum(a for _, a, _ in m.harmonics) + (1.0 if m.spikes else 0.0)
    half = int(np.ceil(m.radius * m.elongation * (1 + amp) + 2 * m.edge + 2))
    x0, y0 = int(np.floor(m.cx)) - half, int(np.floor(m.cy)) - half
    ys, xs = np.ogrid[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1]
    dx, dy = xs - m.cx, ys - m.cy
    xr = dx * np.cos(m.angle) + dy * np.sin(m.angle)
    yr = dy * np.cos(m.angle) - dx * np.sin(m.angle)
    r = np.hypot(xr / m.elongation, yr)
    theta = np.arctan2(yr, xr)
    bound = np.ones_like(theta)
    for order, a, phase in m.harmonics:
        bound = bound + a * np.cos(order * theta + phase)
    if m.spikes:  # thin radial spicules reaching about twice the radius
        bound = bound + 1.0 * np.maximum(np.cos(m.spikes * theta + m.angle), 0.0) ** 60
    bound = bound * m.radius
    alpha = np.clip((bound - r) / m.edge + 0.5, 0.0, 1.0)
    values = alpha * m.contrast
    if m.fat_core:  # fat-containing: lucent centre inside a dense rim
        values -= 1.6 * m.contrast * np.clip((0.55 * bound - r) / m.edge + 0.5, 0.0, 1.0)
    return x0, y0, values.astype(np.float32)


def _calc_patch(c: CalcCluster) -> tuple[int, int, np.ndarray]:
    """Signal added by a calcification cluster, on a patch covering all dots."""
    step = np.array([np.cos(c.angle), np.sin(c.angle)]) * c.dot_radius * 1.5
    pts = [np.array(p) + k * step for p in c.points for k in (range(-2, 3) if c.linear else (0,))]
    pad = int(np.ceil(c.dot_radius)) + 2
    arr = np.array(pts)
    x0, y0 = int(np.floor(arr[:, 0].min())) - pad, int(np.floor(arr[:, 1].min())) - pad
    w = int(np.ceil(arr[:, 0].max())) + pad + 1 - x0
    h = int(np.ceil(arr[:, 1].max())) + pad + 1 - y0
    values = np.zeros((h, w), np.float32)
    for px, py in pts:  # each dot only touches a small window around itself
        cx, cy = px - x0, py - y0
        xa, ya = int(cx) - pad + 1, int(cy) - pad + 1
        ys, xs = np.ogrid[ya : ya + 2 * pad, xa : xa + 2 * pad]
        dot = np.clip(c.dot_radius + 0.5 - np.hypot(xs - cx, ys - cy), 0.0, 1.0) * c.contrast
        window = values[ya : ya + 2 * pad, xa : xa + 2 * pad]
        np.maximum(window, dot.astype(np.float32), out=window)
    return x0, y0, values


def lesion_patch(lesion: Lesion) -> tuple[int, int, np.ndarray]:
    """Patch origin and added signal for any lesion."""
    return _mass_patch(lesion) if isinstance(lesion, Mass) else _calc_patch(lesion)


def lesion_box(lesion: Lesion, rows: int, columns: int) -> Box:
    """Inclusive-exclusive (xmin, ymin, xmax, ymax) of the visible lesion, clipped to the image."""
    x0, y0, values = lesion_patch(lesion)
    ys, xs = np.nonzero(np.abs(values) > 0.25 * np.abs(values).max())
    xmin, xmax = max(0, x0 + int(xs.min())), min(columns, x0 + int(xs.max()) + 1)
    ymin, ymax = max(0, y0 + int(ys.min())), min(rows, y0 + int(ys.max()) + 1)
    return xmin, ymin, max(xmax, xmin + 1), max(ymax, ymin + 1)


def _paste(signal: np.ndarray, lesion: Lesion) -> None:
    """Add a lesion patch to the signal, clipped at the image border."""
    x0, y0, values = lesion_patch(lesion)
    rows, cols = signal.shape
    ya, xa = max(y0, 0), max(x0, 0)
    yb, xb = min(y0 + values.shape[0], rows), min(x0 + values.shape[1], cols)
    if ya < yb and xa < xb:
        signal[ya:yb, xa:xb] += values[ya - y0 : yb - y0, xa - x0 : xb - x0]


def _thickness(shape: BreastShape, rows: int, columns: int, laterality: str) -> np.ndarray:
    """Compressed-breast thickness proxy in [0, 1]: 0 outside the outline."""
    xd: np.ndarray = np.arange(columns, dtype=np.float32)
    if laterality == "R":
        xd = xd[::-1]
    u = (xd / (shape.depth * columns)) ** 2
    y = np.arange(rows, dtype=np.float32) - shape.center * rows
    half = np.where(y < 0, shape.upper * rows, shape.lower * rows).astype(np.float32)
    t = (y / half)[:, None] ** 2 + u[None, :]
    np.subtract(1.0, t, out=t)
    np.maximum(t, 0.0, out=t)
    return np.sqrt(t, out=t)


def _add_pectoral(signal: np.ndarray, shape: BreastShape, laterality: str) -> None:
    """Bright pectoral muscle triangle in the upper chest-wall corner of MLO views."""
    rows, cols = signal.shape
    pw, ph = int(shape.pectoral_width * cols), int(shape.pectoral_height * rows)
    if pw < 2 or ph < 2:
        return
    xd = np.arange(pw, dtype=np.float32) / pw
    y = np.arange(ph, dtype=np.float32)[:, None] / ph
    muscle = np.clip((1.0 - xd[None, :] - y) * 6.0, 0.0, 1.0) * 0.3
    block = signal[:ph, :pw] if laterality == "L" else signal[:ph, cols - pw :]
    block += muscle if laterality == "L" else muscle[:, ::-1]


def render_signal(
    shape: BreastShape,
    laterality: str,
    rows: int,
    columns: int,
    composition: str,
    lesions: tuple[Lesion, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    """Float32 'density' image in about [0, 1] (bright = dense), before vendor encoding."""
    t = _thickness(shape, rows, columns, laterality)
    grid = glandular_grid(rng, composition)
    if laterality == "R":  # mirror the small grid: strided full-size arrays are slow
        grid = np.ascontiguousarray(grid[:, ::-1])
    signal = upsample(grid, rows, columns)
    signal *= np.float32(0.5)
    signal += np.float32(0.32)
    signal *= t
    _add_pectoral(signal, shape, laterality)
    for lesion in lesions:
        _paste(signal, lesion)
    # Quantum noise only matters visually: uniform float32 is 5x cheaper than normals.
    noise = rng.random((rows, columns), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(0.04)
    signal += noise
    return signal


def encoding(photometric: str, bits_stored: int) -> tuple[float, float]:
    """(offset, scale) mapping signal to stored values; negative scale inverts MONOCHROME1."""
    top = float(2**bits_stored - 1)
    if photometric == "MONOCHROME1":
        return top * 0.96, -top * 0.85
    return top * 0.04, top * 0.85


def window(photometric: str, bits_stored: int) -> tuple[int, int]:
    """Window centre/width covering the breast signal band [0.05, 0.95]."""
    offset, scale = encoding(photometric, bits_stored)
    return int(round(offset + 0.5 * scale)), int(round(abs(scale) * 0.9))


def to_stored(signal: np.ndarray, photometric: str, bits_stored: int) -> np.ndarray:
    """Encode a signal image as unsigned 16-bit stored values within BitsStored."""
    offset, scale = encoding(photometric, bits_stored)
    signal *= np.float32(scale)
    signal += np.float32(offset)
    np.clip(signal, 0, 2**bits_stored - 1, out=signal)
    return signal.astype(np.uint16)
