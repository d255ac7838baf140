"""Findings suite: values from the one BI-RADS vocabulary, boxes inside their image, linked boxes on one breast."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from quality.frames import BOX_VIEWS
from quality.spec import Rule, Suite, in_set, is_true

# Side- and finding-level columns of the findings frame; every other vocabulary key is a finding attribute.
SCALAR_FIELDS = ("composition", "assessment", "finding_type", "birads")


def findings_suite(allowed: Mapping[str, Collection[str]]) -> Suite:
    """Build the findings suite (blocking); `allowed` maps each field and attribute to its vocabulary."""
    missing = [f for f in SCALAR_FIELDS if f not in allowed]
    if missing:
        raise ValueError(f"the vocabulary lacks {missing}")
    attributes = {k: frozenset(v) for k, v in allowed.items() if k not in SCALAR_FIELDS}
    rules = [in_set(f, allowed[f], f"{f.replace('_', ' ')} is in the BI-RADS vocabulary") for f in SCALAR_FIELDS]
    rules += [
        Rule(
            "every finding attribute and value is in the BI-RADS vocabulary",
            "ExpectColumnValuesToBeNull",
            {"column": "unknown_attributes"},
            ("finding_type",),
        ),
        *[
            is_true(
                f"{v}_box_inside",
                f"{v.upper()} box lies inside its image",
                (*(f"{v}_{e}" for e in ("xmin", "ymin", "xmax", "ymax")), f"{v}_columns", f"{v}_rows"),
            )
            for v in BOX_VIEWS
        ],
        is_true(
            "same_breast",
            "linked CC and MLO boxes are on images of the finding's breast",
            ("laterality", "cc_laterality", "mlo_laterality"),
        ),
    ]
    return Suite(
        name="findings",
        key_columns=("study_uid", "laterality", "finding_uid"),
        rules=tuple(rules),
        prepare=lambda frame: _prepare(frame, attributes),
    )


def _prepare(frame: pd.DataFrame, attributes: Mapping[str, frozenset[str]]) -> pd.DataFrame:
    attr_columns = [c for c in frame.columns if c.startswith("attr_")]
    frame["unknown_attributes"] = [_unknown(row, attributes) for row in frame[attr_columns].to_dict("records")]
    for view in BOX_VIEWS:
        frame[f"{view}_box_inside"] = [_inside(row, view) for row in frame.to_dict("records")]
    frame["same_breast"] = [_same_breast(row) for row in frame.to_dict("records")]
    return frame


def _unknown(attrs: dict[str, object], vocabulary: Mapping[str, frozenset[str]]) -> str | None:
    """'name=value' for every attribute or value outside the vocabulary, None when all are known."""
    problems = []
    for column, value in attrs.items():
        name = column.removeprefix("attr_")
        values = value if isinstance(value, list) else [] if _missing(value) else [value]
        problems += [f"{name}={v}" for v in values if name not in vocabulary or v not in vocabulary[name]]
    return "; ".join(problems) or None


def _inside(row: dict[str, object], view: str) -> bool:
    """No box on this view, or 0 <= min < max <= size (xmax/ymax exclusive) on an image of known size."""
    edges = [row.get(f"{view}_{e}") for e in ("xmin", "ymin", "xmax", "ymax")]
    if all(_missing(e) for e in edges):
        return True
    width, height = row.get(f"{view}_columns"), row.get(f"{view}_rows")
    if any(_missing(v) for v in (*edges, width, height)):
        return False
    xmin, ymin, xmax, ymax = (float(e) for e in edges)  # type: ignore[arg-type]
    return 0 <= xmin < xmax <= float(width) and 0 <= ymin < ymax <= float(height)  # type: ignore[arg-type]


def _same_breast(row: dict[str, object]) -> bool:
    """Every image a box is drawn on shows the finding's breast."""
    side = row.get("laterality")
    image_sides = [row.get(f"{v}_laterality") for v in BOX_VIEWS if not _missing(row.get(f"{v}_instance_id"))]
    return all(s == side for s in image_sides)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))
