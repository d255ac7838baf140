"""Images suite: mammograms fit for training, as the index and their own headers describe them."""

from __future__ import annotations

import pandas as pd

from emr_core.dicom.views import VIEW_NAMES
from quality.spec import Rule, Suite, in_set, is_true, not_null

# Digital Mammography X-Ray and Breast Projection X-Ray Image Storage, both For Presentation (PS3.4 B.5).
FOR_PRESENTATION_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.13.1.4"})
LATERALITIES = frozenset({"L", "R"})


def images_suite() -> Suite:
    """Build the images suite (blocking): SOP class, intent, orientation, spacing, exam completeness, uniqueness."""
    return Suite(
        name="images",
        key_columns=("sop_instance_uid", "study_uid"),
        prepare=_prepare,
        rules=(
            in_set("sop_class_uid", FOR_PRESENTATION_SOP_CLASSES, "SOP class is a mammography image For Presentation"),
            in_set("presentation_intent", ["FOR PRESENTATION"], "PresentationIntentType is FOR PRESENTATION"),
            is_true("header_readable", "the stored file's header can be read"),
            not_null("laterality", "laterality is known", ("laterality_source",)),
            in_set("laterality", LATERALITIES, "laterality is L or R"),
            is_true(
                "laterality_agrees",
                "every header attribute stating a side agrees",
                ("laterality", "header_lateralities"),
            ),
            not_null("view", "view is known", ("view_source",)),
            in_set("view", VIEW_NAMES, "view is a CID 4014 mammography view"),
            is_true("view_agrees", "every header attribute stating a view agrees", ("view", "header_views")),
            not_null("pixel_spacing_row", "pixel spacing is present"),
            Rule(
                "pixel spacing is positive",
                "ExpectColumnValuesToBeBetween",
                {"column": "pixel_spacing_row", "min_value": 0, "strict_min": True},
                ("pixel_spacing_col",),
            ),
            is_true("exam_complete", "the exam holds all four views (LCC, LMLO, RCC, RMLO)", ("exam_views",)),
            Rule(
                "no SOP Instance UID twice (another copy with other bytes)",
                "ExpectColumnValuesToBeUnique",
                {"column": "sop_instance_uid"},
                ("copy", "stored_path"),
            ),
            Rule(
                "BurnedInAnnotation is not YES",
                "ExpectColumnValuesToNotBeInSet",
                {"column": "burned_in_annotation", "value_set": ["YES"]},
            ),
        ),
    )


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    frame["header_readable"] = frame["header_readable"].fillna(False).astype(bool)
    # A readable header without the attribute fails the intent rule; an unreadable one only its own.
    absent = frame["header_readable"] & frame["presentation_intent"].isna()
    frame["presentation_intent"] = frame["presentation_intent"].where(~absent, "(missing)")
    frame["laterality_agrees"] = [
        _agrees(v, s, h)
        for v, s, h in zip(frame["laterality"], frame["laterality_source"], frame["header_lateralities"], strict=True)
    ]
    frame["view_agrees"] = [
        _agrees(v, s, h) for v, s, h in zip(frame["view"], frame["view_source"], frame["header_views"], strict=True)
    ]
    frame["exam_complete"] = frame["exam_complete"].astype(bool)
    return frame


def _agrees(value: object, source: object, stated: object) -> bool:
    """The indexed value equals what every stating attribute says, including the one it was taken from."""
    if not isinstance(value, str) or not isinstance(stated, dict):
        return True  # unknown value or unreadable header: judged by their own rules
    if isinstance(source, str) and stated.get(source) != value:
        return False
    return all(v == value for v in stated.values())
