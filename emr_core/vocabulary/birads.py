"""BI-RADS (ACR Atlas, 5th edition) for mammography: assessments, composition, findings and descriptors.

Values are the strings stored in the database and shown in Label Studio, so they never change spelling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Assessment(StrEnum):
    """Final assessment category; 4 may be given undivided or as 4A/4B/4C."""

    INCOMPLETE = "0"
    NEGATIVE = "1"
    BENIGN = "2"
    PROBABLY_BENIGN = "3"
    SUSPICIOUS = "4"  # undivided: reports written before subdivision, and still valid in the atlas
    LOW_SUSPICION = "4A"
    MODERATE_SUSPICION = "4B"
    HIGH_SUSPICION = "4C"
    HIGHLY_SUGGESTIVE = "5"
    KNOWN_MALIGNANCY = "6"

    @property
    def category(self) -> str:
        """The category without its subtype: '4' for 4, 4A, 4B and 4C."""
        return self.value[0]

    @property
    def subtype(self) -> str | None:
        """'A', 'B' or 'C' for the subdivided category 4, else None."""
        return self.value[1:] or None

    @classmethod
    def from_parts(cls, category: str, subtype: str | None = None) -> Assessment:
        """'4' and 'B' -> 4B; a subtype is only read for category 4 (ValueError for an unknown value)."""
        return cls(f"{category}{subtype}" if category == "4" and subtype else category)


# What a reader picks in Label Studio: the category, then for 4 its subtype (two controls).
ASSESSMENT_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(a.category for a in Assessment))
ASSESSMENT_SUBTYPES: tuple[str, ...] = tuple(a.subtype for a in Assessment if a.subtype)
# A finding worked up on a screening mammogram is benign (2) to highly suggestive (5).
FINDING_CATEGORIES: tuple[str, ...] = ("2", "3", "4", "5")

# Least to most actionable: 0 (recall for work-up) outranks 1-3 but not a suspicious finding, so an
# exam's overall assessment is the most actionable of its breasts.
SEVERITY: tuple[Assessment, ...] = (
    Assessment.NEGATIVE,
    Assessment.BENIGN,
    Assessment.PROBABLY_BENIGN,
    Assessment.INCOMPLETE,
    Assessment.SUSPICIOUS,
    Assessment.LOW_SUSPICION,
    Assessment.MODERATE_SUSPICION,
    Assessment.HIGH_SUSPICION,
    Assessment.HIGHLY_SUGGESTIVE,
    Assessment.KNOWN_MALIGNANCY,
)


_ASSESSMENT_VALUES = frozenset(a.value for a in Assessment)


def most_severe(assessments: Iterable[str]) -> Assessment | None:
    """The most actionable of these assessments; values that are not BI-RADS are ignored."""
    known = [Assessment(a) for a in assessments if a in _ASSESSMENT_VALUES]
    return max(known, key=SEVERITY.index) if known else None


class Composition(StrEnum):
    """Breast composition a-d (almost entirely fatty ... extremely dense)."""

    FATTY = "a"
    SCATTERED = "b"
    HETEROGENEOUS = "c"
    EXTREMELY_DENSE = "d"


class FindingType(StrEnum):
    MASS = "mass"
    CALCIFICATION = "calcification"
    ASYMMETRY = "asymmetry"
    GLOBAL_ASYMMETRY = "global asymmetry"
    FOCAL_ASYMMETRY = "focal asymmetry"
    DEVELOPING_ASYMMETRY = "developing asymmetry"
    ARCHITECTURAL_DISTORTION = "architectural distortion"
    INTRAMAMMARY_LYMPH_NODE = "intramammary lymph node"


class MassShape(StrEnum):
    OVAL = "oval"
    ROUND = "round"
    IRREGULAR = "irregular"


class MassMargin(StrEnum):
    CIRCUMSCRIBED = "circumscribed"
    OBSCURED = "obscured"
    MICROLOBULATED = "microlobulated"
    INDISTINCT = "indistinct"
    SPICULATED = "spiculated"


class MassDensity(StrEnum):
    HIGH = "high"
    EQUAL = "equal"
    LOW = "low"
    FAT_CONTAINING = "fat-containing"


class CalcMorphology(StrEnum):
    """Typically benign first, then suspicious morphology (amorphous onwards)."""

    SKIN = "skin"
    VASCULAR = "vascular"
    COARSE_POPCORN = "coarse or popcorn-like"
    LARGE_ROD_LIKE = "large rod-like"
    ROUND_PUNCTATE = "round/punctate"
    RIM = "rim"
    DYSTROPHIC = "dystrophic"
    MILK_OF_CALCIUM = "milk of calcium"
    SUTURE = "suture"
    AMORPHOUS = "amorphous"
    COARSE_HETEROGENEOUS = "coarse heterogeneous"
    FINE_PLEOMORPHIC = "fine pleomorphic"
    FINE_LINEAR_BRANCHING = "fine linear branching"


class CalcDistribution(StrEnum):
    DIFFUSE = "diffuse"
    REGIONAL = "regional"
    GROUPED = "grouped"
    LINEAR = "linear"
    SEGMENTAL = "segmental"


class AssociatedFeature(StrEnum):
    SKIN_RETRACTION = "skin retraction"
    NIPPLE_RETRACTION = "nipple retraction"
    SKIN_THICKENING = "skin thickening"
    TRABECULAR_THICKENING = "trabecular thickening"
    AXILLARY_ADENOPATHY = "axillary adenopathy"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The plain string values of an enum, in definition order."""
    return tuple(member.value for member in enum)


@dataclass(frozen=True)
class Attribute:
    """A per-box property: its lexicon values, the finding types it applies to and requires it."""

    name: str
    title: str
    values: tuple[str, ...]
    applies_to: tuple[str, ...]
    required: bool = False
    multiple: bool = False


_MASS, _CALC = (FindingType.MASS.value,), (FindingType.CALCIFICATION.value,)
LEXICON: tuple[Attribute, ...] = (
    Attribute("mass_shape", "Mass shape", values(MassShape), _MASS, True),
    Attribute("mass_margin", "Mass margin", values(MassMargin), _MASS, True),
    Attribute("mass_density", "Mass density", values(MassDensity), _MASS),
    Attribute("calc_morphology", "Calcification morphology", values(CalcMorphology), _CALC, True),
    Attribute("calc_distribution", "Calcification distribution", values(CalcDistribution), _CALC, True),
    Attribute(
        "associated_features", "Associated features", values(AssociatedFeature), values(FindingType), multiple=True
    ),
)
