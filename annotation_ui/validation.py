"""Validate an annotation against the BI-RADS schema; Label Studio itself accepts any label value."""

from __future__ import annotations

from typing import Any

from annotation_ui.labeling_config import (
    ASSESSMENT,
    ASSESSMENT_SUBTYPE,
    BIRADS,
    BIRADS_SUBTYPE,
    COMPOSITION,
    SAME_LESION,
)
from annotation_ui.reads import GroupedResult, Region, group_result
from annotation_ui.schema import Schema
from emr_core.vocabulary.birads import (
    ASSESSMENT_CATEGORIES,
    ASSESSMENT_SUBTYPES,
    FINDING_CATEGORIES,
    Assessment,
    Composition,
)

COMPOSITIONS = tuple(c.value for c in Composition)

EPSILON = 1e-6  # percent; Label Studio's floats may overshoot the border by rounding


def validate_result(result: list[dict[str, Any]], schema: Schema, sizes: dict[str, tuple[int, int]]) -> list[str]:
    """Reasons this result cannot be consolidated (empty when valid); `sizes` are the rendered PNG sizes."""
    grouped = group_result(result)
    problems = list(grouped.unknown)
    for region in grouped.regions.values():
        problems += _region_problems(region, schema, sizes)
    problems += _relation_problems(grouped)
    problems += _side_problems(grouped.side)
    return problems


def _name(region: Region) -> str:
    label = region.labels[0] if len(region.labels) == 1 else "box"
    return f"{label} ({region.view.upper()} box {region.region_id})"


def _geometry(region: Region, sizes: dict[str, tuple[int, int]]) -> list[str]:
    """Inside the image, not empty, not rotated, drawn on the image we rendered."""
    v, problems = region.value, []
    try:
        x, y, w, h = (float(v[k]) for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        return [f"{_name(region)} has no x/y/width/height"]
    if w <= 0 or h <= 0:
        problems.append(f"{_name(region)} is empty")
    if x < -EPSILON or y < -EPSILON or x + w > 100 + EPSILON or y + h > 100 + EPSILON:
        problems.append(f"{_name(region)} is outside the image (x {x:.1f}–{x + w:.1f}%, y {y:.1f}–{y + h:.1f}%)")
    if abs(float(v.get("rotation") or 0)) > EPSILON:
        problems.append(f"{_name(region)} is rotated; draw boxes without rotation")
    if region.original_size != sizes.get(region.view):
        problems.append(
            f"{_name(region)} was drawn on a {region.original_size} image, expected {sizes.get(region.view)}"
        )
    return problems


def _region_problems(region: Region, schema: Schema, sizes: dict[str, tuple[int, int]]) -> list[str]:
    """Label, finding BI-RADS and the lexicon attributes of one box."""
    if len(region.labels) != 1 or region.labels[0] not in schema.finding_types:
        return [f"{_name(region)} has label(s) {region.labels}, expected one of {list(schema.finding_types)}"]
    ftype, problems = region.labels[0], _geometry(region, sizes)
    problems += _birads_problems(region)
    allowed = {a.name: a for a in schema.attributes_for(ftype)}
    for name, values in region.choices.items():
        if name in (BIRADS, BIRADS_SUBTYPE):
            continue
        attr = allowed.get(name)
        if attr is None:
            problems.append(f"{_name(region)} has {name}, which does not apply to a {ftype}")
        elif [v for v in values if v not in attr.values] or (len(values) > 1 and not attr.multiple):
            expected = "any" if attr.multiple else "one"
            problems.append(f"{_name(region)} has {name} {values}, expected {expected} of {list(attr.values)}")
    missing = [a.name for a in allowed.values() if a.required and not region.choices.get(a.name)]
    if missing:
        problems.append(f"{_name(region)} without {' and '.join(missing)}")
    return problems


def _birads_problems(region: Region) -> list[str]:
    """Finding BI-RADS 2–5 is required; 4 needs its subtype, others must not have one."""
    birads, subtype = region.choices.get(BIRADS, []), region.choices.get(BIRADS_SUBTYPE, [])
    if len(birads) != 1 or birads[0] not in FINDING_CATEGORIES:
        return [f"{_name(region)} needs one finding BI-RADS of {list(FINDING_CATEGORIES)}, has {birads}"]
    return _subtype_problems(birads[0], subtype, f"{_name(region)} BI-RADS")


def _subtype_problems(category: str, subtype: list[str], what: str) -> list[str]:
    if category == Assessment.SUSPICIOUS and (len(subtype) != 1 or subtype[0] not in ASSESSMENT_SUBTYPES):
        return [f"{what} 4 without its subtype (4A/4B/4C)"]
    if category != Assessment.SUSPICIOUS and subtype:
        return [f"{what} {category} with a subtype {subtype} (only 4 has one)"]
    return []


def _relation_problems(grouped: GroupedResult) -> list[str]:
    """same_lesion links one CC box to one MLO box describing the same finding."""
    problems: list[str] = []
    seen: set[str] = set()
    for from_id, to_id, labels in grouped.relations:
        a, b = grouped.regions.get(from_id), grouped.regions.get(to_id)
        if labels != [SAME_LESION]:
            problems.append(f"relation {from_id}→{to_id} has labels {labels}, expected ['{SAME_LESION}']")
        elif a is None or b is None or {a.view, b.view} != {"cc", "mlo"}:
            problems.append(f"{SAME_LESION} {from_id}→{to_id} must link a CC box to an MLO box")
        elif seen & {from_id, to_id}:
            problems.append(f"box {sorted(seen & {from_id, to_id})} is linked by more than one {SAME_LESION}")
        elif a.labels != b.labels or a.choices != b.choices:
            problems.append(f"{SAME_LESION} links {_name(a)} and {_name(b)}, which are described differently")
        seen |= {from_id, to_id}
    return problems


def _side_problems(side: dict[str, list[str]]) -> list[str]:
    """Composition a–d and assessment 0–6 (4 with its subtype) for the breast side."""
    problems = []
    if len(side.get(COMPOSITION, [])) != 1 or side[COMPOSITION][0] not in COMPOSITIONS:
        problems.append(f"breast composition must be one of {list(COMPOSITIONS)}, has {side.get(COMPOSITION, [])}")
    assessment = side.get(ASSESSMENT, [])
    if len(assessment) != 1 or assessment[0] not in ASSESSMENT_CATEGORIES:
        problems.append(f"assessment must be one of {list(ASSESSMENT_CATEGORIES)}, has {assessment}")
    else:
        problems += _subtype_problems(assessment[0], side.get(ASSESSMENT_SUBTYPE, []), "assessment")
    return problems
