"""The platform's one vocabulary: BI-RADS (ACR, 5th edition) and the DICOM values it reads and writes.

Every other module (labeling config, validation, reports, follow-up rules, synthetic corpus) takes its
lists from here, so a category added or renamed changes everywhere at once.
"""

from emr_core.vocabulary.birads import (
    ASSESSMENT_CATEGORIES,
    ASSESSMENT_SUBTYPES,
    FINDING_CATEGORIES,
    LEXICON,
    SEVERITY,
    Assessment,
    AssociatedFeature,
    Attribute,
    CalcDistribution,
    CalcMorphology,
    Composition,
    FindingType,
    MassDensity,
    MassMargin,
    MassShape,
    most_severe,
)
from emr_core.vocabulary.dicom import (
    BREAST_SIDES,
    MAMMOGRAPHY_SOP_CLASSES,
    SCREENING_VIEWS,
    Laterality,
    SopClass,
    ViewPosition,
)

__all__ = [
    "ASSESSMENT_CATEGORIES",
    "ASSESSMENT_SUBTYPES",
    "BREAST_SIDES",
    "FINDING_CATEGORIES",
    "LEXICON",
    "MAMMOGRAPHY_SOP_CLASSES",
    "SCREENING_VIEWS",
    "SEVERITY",
    "Assessment",
    "AssociatedFeature",
    "Attribute",
    "CalcDistribution",
    "CalcMorphology",
    "Composition",
    "FindingType",
    "Laterality",
    "MassDensity",
    "MassMargin",
    "MassShape",
    "SopClass",
    "ViewPosition",
    "most_severe",
]
