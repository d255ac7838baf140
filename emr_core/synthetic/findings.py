"""Synthetic BI-RADS findings: descriptors, assessments and lesions placed consistently on CC and MLO."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emr_core.synthetic import pixels
from emr_core.vocabulary.birads import (
    Assessment,
    CalcDistribution,
    CalcMorphology,
    Composition,
    FindingType,
    MassDensity,
    MassMargin,
    MassShape,
    most_severe,
    values,
)
from emr_core.vocabulary.dicom import BREAST_SIDES

# Share of each composition in screening populations (BI-RADS atlas, 5th edition).
COMPOSITIONS: tuple[tuple[str, float], ...] = tuple(zip(values(Composition), (0.10, 0.43, 0.37, 0.10), strict=True))


@dataclass(frozen=True)
class Finding:
    """One BI-RADS finding, with its lesion geometry on the CC and MLO view of its side."""

    finding_id: str
    laterality: str
    finding_type: str
    attributes: dict[str, str]
    birads: str
    lesions: dict[str, pixels.Lesion]


# A suspicion score per descriptor; the sum for a finding maps to its assessment (_birads_for).
MASS_SHAPE = dict(zip(values(MassShape), (0, 0, 2), strict=True))
MASS_MARGIN = dict(zip(values(MassMargin), (0, 1, 2, 2, 3), strict=True))
MASS_DENSITY = dict(zip(values(MassDensity), (1, 0, 0, -3), strict=True))
CALC_MORPHOLOGY = {
    CalcMorphology.ROUND_PUNCTATE.value: 0,
    CalcMorphology.AMORPHOUS.value: 2,
    CalcMorphology.COARSE_HETEROGENEOUS.value: 2,
    CalcMorphology.FINE_PLEOMORPHIC.value: 3,
    CalcMorphology.FINE_LINEAR_BRANCHING.value: 4,
}
CALC_DISTRIBUTION = dict(zip(values(CalcDistribution), (-1, 0, 0, 1, 1), strict=True))
# Calcification spread (mm) and dot count range per distribution.
CALC_SPREAD = {
    "diffuse": (25.0, 30, 45),
    "regional": (18.0, 20, 35),
    "grouped": (5.0, 5, 14),
    "linear": (10.0, 6, 12),
    "segmental": (16.0, 14, 26),
}
CALC_DOT = {
    "round/punctate": (0.25, 0.30),
    "amorphous": (0.15, 0.15),
    "coarse heterogeneous": (0.4, 0.35),
    "fine pleomorphic": (0.2, 0.3),
    "fine linear branching": (0.15, 0.3),
}
MASS_CONTRAST = {"high": 0.3, "equal": 0.18, "low": 0.11, "fat-containing": 0.2}


def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    """Uniform choice from a sequence of strings."""
    return options[int(rng.integers(len(options)))]


_BY_SCORE = (
    Assessment.PROBABLY_BENIGN,
    Assessment.PROBABLY_BENIGN,
    Assessment.LOW_SUSPICION,
    Assessment.MODERATE_SUSPICION,
    Assessment.HIGH_SUSPICION,
    Assessment.HIGHLY_SUGGESTIVE,
)


def _birads_for(score: int) -> str:
    """Suspicion score to assessment: findings are never below 3 (a finding was worked up)."""
    return _BY_SCORE[int(np.clip(score, 0, 5))].value


def _mass_attributes(rng: np.random.Generator) -> tuple[dict[str, str], str]:
    """Shape, margin, density and the matching assessment."""
    fat = MassDensity.FAT_CONTAINING.value
    density = fat if rng.random() < 0.05 else pick(rng, values(MassDensity)[:3])  # high, equal, low
    shape = MassShape.OVAL.value if density == fat else pick(rng, list(MASS_SHAPE))
    margin = MassMargin.CIRCUMSCRIBED.value if density == fat else pick(rng, list(MASS_MARGIN))
    score = MASS_SHAPE[shape] + MASS_MARGIN[margin] + MASS_DENSITY[density]
    return {"mass_shape": shape, "mass_margin": margin, "mass_density": density}, _birads_for(score)


def _calc_attributes(rng: np.random.Generator) -> tuple[dict[str, str], str]:
    """Morphology, distribution and the matching assessment."""
    morphology, distribution = pick(rng, list(CALC_MORPHOLOGY)), pick(rng, list(CALC_DISTRIBUTION))
    score = CALC_MORPHOLOGY[morphology] + CALC_DISTRIBUTION[distribution]
    return {"calc_morphology": morphology, "calc_distribution": distribution}, _birads_for(score)


def _mass_geometry(rng: np.random.Generator, attrs: dict[str, str], spacing: float) -> dict[str, Any]:
    """View-independent mass parameters (pixel units) derived from the descriptors."""
    radius = max(2.0, float(rng.uniform(4.0, 15.0)) / spacing)
    shape, margin = attrs["mass_shape"], attrs["mass_margin"]
    harmonics: list[tuple[int, float, float]] = []
    if shape == MassShape.IRREGULAR:
        harmonics += [(k, float(rng.uniform(0.08, 0.18)), float(rng.uniform(0, 6.3))) for k in (2, 3, 5)]
    if margin == MassMargin.MICROLOBULATED:
        harmonics.append((int(rng.integers(10, 16)), 0.07, float(rng.uniform(0, 6.3))))
    edge = {
        "circumscribed": 0.8,
        "obscured": 2.0,
        "microlobulated": 0.8,
        "indistinct": max(1.0, 0.3 * radius),
        "spiculated": 1.2,
    }[margin]
    elong = {"round": 1.0, "oval": float(rng.uniform(1.3, 1.8)), "irregular": float(rng.uniform(1.0, 1.4))}
    return {
        "radius": radius,
        "elongation": elong[shape],
        "harmonics": tuple(harmonics),
        "spikes": int(rng.integers(8, 15)) if margin == MassMargin.SPICULATED else 0,
        "edge": edge,
        "contrast": MASS_CONTRAST[attrs["mass_density"]] * (0.6 if margin == MassMargin.OBSCURED else 1.0),
        "fat_core": attrs["mass_density"] == MassDensity.FAT_CONTAINING,
    }


def _calc_offsets(rng: np.random.Generator, attrs: dict[str, str], spacing: float) -> np.ndarray:
    """Dot offsets (pixels) around the cluster centre, shaped by the distribution."""
    spread_mm, low, high = CALC_SPREAD[attrs["calc_distribution"]]
    n, spread = int(rng.integers(low, high + 1)), spread_mm / spacing
    kind = attrs["calc_distribution"]
    if kind == CalcDistribution.LINEAR:
        along = rng.uniform(-1, 1, n) * spread
        return np.stack([along, rng.normal(0, 0.05 * spread, n)], axis=1)
    if kind == CalcDistribution.SEGMENTAL:  # a wedge that widens away from the apex
        along = rng.uniform(0, 1, n)
        return np.stack([(along - 0.5) * 2 * spread, rng.uniform(-0.5, 0.5, n) * along * spread], axis=1)
    radius, angle = np.sqrt(rng.uniform(0, 1, n)) * spread, rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


@dataclass(frozen=True)
class CalcPattern:
    """View-independent calcification cluster: dot offsets (pixels), size and look."""

    offsets: tuple[tuple[float, float], ...]
    dot_mm: float
    contrast: float
    linear: bool


def _lesion(
    rng: np.random.Generator,
    params: dict[str, Any] | CalcPattern,
    center: tuple[float, float],
    spacing: float,
    rows: int,
    columns: int,
) -> pixels.Lesion:
    """Place a mass or calcification cluster at a pixel centre, kept inside the image."""
    if isinstance(params, dict):
        return pixels.Mass(center[0], center[1], angle=float(rng.uniform(0, np.pi)), **params)
    pts = np.clip(np.array(params.offsets) + np.array(center), [1, 1], [columns - 2, rows - 2])
    return pixels.CalcCluster(
        tuple((float(x), float(y)) for x, y in pts),
        max(0.6, params.dot_mm / spacing),
        params.linear,
        float(rng.uniform(0, np.pi)),
        params.contrast,
    )


def plan_finding(
    rng: np.random.Generator,
    finding_id: str,
    laterality: str,
    shapes: dict[tuple[str, str], pixels.BreastShape],
    spacing: float,
    rows: int,
    columns: int,
) -> Finding:
    """One finding: descriptors, assessment and a lesion at the same nipple distance on CC and MLO."""
    ftype = FindingType.MASS.value if rng.random() < 0.6 else FindingType.CALCIFICATION.value
    if ftype == FindingType.MASS:
        attrs, birads = _mass_attributes(rng)
        params: dict[str, Any] | CalcPattern = _mass_geometry(rng, attrs, spacing)
    else:
        attrs, birads = _calc_attributes(rng)
        morph = attrs["calc_morphology"]
        offsets = tuple((float(x), float(y)) for x, y in _calc_offsets(rng, attrs, spacing))
        params = CalcPattern(offsets, *CALC_DOT[morph], morph == CalcMorphology.FINE_LINEAR_BRANCHING)
    distance = float(rng.uniform(0.25, 0.7))
    lesions: dict[str, pixels.Lesion] = {}
    for view, offset in (("CC", rng.uniform(-0.7, 0.7)), ("MLO", rng.uniform(-0.5, 0.7))):  # CC first: draw order
        center = pixels.lesion_center(shapes[(laterality, view)], rows, columns, laterality, distance, float(offset))
        lesions[view] = _lesion(rng, params, center, spacing, rows, columns)
    return Finding(finding_id, laterality, ftype, attrs, birads, lesions)


def weighted(rng: np.random.Generator, table: Sequence[tuple[str, float]]) -> str:
    """Pick from (value, weight) pairs."""
    weights = np.array([w for _, w in table])
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def plan_compositions(rng: np.random.Generator) -> dict[str, str]:
    """Per-side composition; sides differ by one category in ~10% of women."""
    left = weighted(rng, COMPOSITIONS)
    right = left
    if rng.random() < 0.1:
        order = values(Composition)
        right = order[int(np.clip(order.index(left) + rng.choice([-1, 1]), 0, 3))]
    return {"L": left, "R": right}


def side_assessments(rng: np.random.Generator, findings: Sequence[Finding]) -> dict[str, str]:
    """Side assessment: the most suspicious finding, else negative (1) or benign (2)."""
    result = {}
    for side in (s.value for s in BREAST_SIDES):
        worst = most_severe(f.birads for f in findings if f.laterality == side)
        default = Assessment.NEGATIVE if rng.random() < 0.8 else Assessment.BENIGN
        result[side] = (worst or default).value
    return result
