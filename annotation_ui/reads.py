"""A Label Studio annotation result as a reader's read of one breast side, boxes in DICOM pixels."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from annotation_ui.labeling_config import (
    ASSESSMENT,
    ASSESSMENT_SUBTYPE,
    BIRADS,
    BIRADS_SUBTYPE,
    COMPOSITION,
    SAME_LESION,
    VIEWS,
    box_control,
)
from emr_core.dicom.render import PixelMapping
from emr_core.vocabulary.birads import Assessment

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass
class Region:
    """One drawn rectangle and the per-region choices attached to it (by region id)."""

    region_id: str
    view: str
    labels: list[str]
    value: dict[str, Any]
    original_size: tuple[int, int]
    choices: dict[str, list[str]] = field(default_factory=dict)  # attribute name -> values


@dataclass
class GroupedResult:
    """Result items sorted into regions, side-level choices, relations and unknown items."""

    regions: dict[str, Region] = field(default_factory=dict)
    side: dict[str, list[str]] = field(default_factory=dict)
    relations: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One lesion as read: type, BI-RADS (e.g. '4B'), attributes and its box on each view it was drawn."""

    finding_type: str
    birads: str
    attributes: dict[str, str | list[str]]
    boxes: dict[str, Box]
    region_ids: tuple[str, ...]


@dataclass(frozen=True)
class SideRead:
    """A complete, valid read of one breast side."""

    composition: str
    assessment: str
    findings: tuple[Finding, ...]


def _view_of_control(name: str) -> str | None:
    return next((v for v in VIEWS if name == box_control(v)), None)


def _region_attribute(name: str) -> tuple[str, str] | None:
    """'cc_mass_shape' -> ('cc', 'mass_shape')."""
    view, _, attribute = name.partition("_")
    return (view, attribute) if view in VIEWS and attribute and name != box_control(view) else None


def group_result(result: list[dict[str, Any]]) -> GroupedResult:
    """Sort a Label Studio result list by what each item is."""
    grouped, pending = GroupedResult(), defaultdict[str, dict[str, list[str]]](dict)
    for item in result:
        name, kind = str(item.get("from_name", "")), item.get("type")
        if kind == "relation":
            # same_lesion is the schema's only relation: a link drawn without picking its label (a menu Label
            # Studio hides behind a hover button) is that link.
            labels = list(item.get("labels") or []) or [SAME_LESION]
            grouped.relations.append((str(item.get("from_id")), str(item.get("to_id")), labels))
        elif kind == "rectanglelabels" and _view_of_control(name):
            size = (int(item.get("original_width") or 0), int(item.get("original_height") or 0))
            value = item.get("value") or {}
            grouped.regions[str(item.get("id"))] = Region(
                str(item.get("id")), _view_of_control(name) or "", list(value.get("rectanglelabels") or []), value, size
            )
        elif kind == "choices" and name in (COMPOSITION, ASSESSMENT, ASSESSMENT_SUBTYPE):
            grouped.side[name] = list((item.get("value") or {}).get("choices") or [])
        elif kind == "choices" and _region_attribute(name):
            pending[str(item.get("id"))][name] = list((item.get("value") or {}).get("choices") or [])
        else:
            grouped.unknown.append(f"{kind or '?'} item from '{name}'")
    for region_id, controls in pending.items():
        region = grouped.regions.get(region_id)
        if region is None:
            grouped.unknown.append(f"choices for region {region_id}, which has no box")
            continue
        for name, values in controls.items():
            view, attribute = name.partition("_")[::2]  # kept in `pending` only when _region_attribute matched
            if view != region.view:  # a hotkey of the other view's control pressed while this box was selected
                grouped.unknown.append(f"{view.upper()} '{attribute}' given to {region.view.upper()} box {region_id}")
                continue
            region.choices[attribute] = values
    return grouped


def with_subtype(value: str, subtype: list[str]) -> str:
    """'4' and ['B'] -> '4B'; other categories are returned as they are."""
    return Assessment.from_parts(value, subtype[0] if subtype else None).value


def region_box(region: Region, mapping: PixelMapping) -> Box:
    """Percent-of-image rectangle → PNG pixels → DICOM pixel box."""
    v, (w, h) = region.value, region.original_size
    x0, y0 = mapping.to_dicom(float(v["x"]) / 100 * w, float(v["y"]) / 100 * h)
    x1, y1 = mapping.to_dicom(
        (float(v["x"]) + float(v["width"])) / 100 * w, (float(v["y"]) + float(v["height"])) / 100 * h
    )
    return x0, y0, x1, y1


def _finding(regions: list[Region], mappings: dict[str, PixelMapping]) -> Finding:
    """One finding from one box or from a same_lesion pair (validated to agree)."""
    first = regions[0]
    attributes: dict[str, str | list[str]] = {}
    for name, values in first.choices.items():
        if name not in (BIRADS, BIRADS_SUBTYPE) and values:
            attributes[name] = values[0] if len(values) == 1 else sorted(values)
    birads = with_subtype(first.choices[BIRADS][0], first.choices.get(BIRADS_SUBTYPE, []))
    boxes = {r.view: region_box(r, mappings[r.view]) for r in regions}
    return Finding(first.labels[0], birads, attributes, boxes, tuple(r.region_id for r in regions))


def parse_read(result: list[dict[str, Any]], mappings: dict[str, PixelMapping]) -> SideRead:
    """A validated result as a read: linked CC/MLO boxes become one finding, others stand alone."""
    grouped = group_result(result)
    linked: set[str] = set()
    findings = []
    for from_id, to_id, labels in grouped.relations:
        if SAME_LESION in labels:
            pair = sorted((grouped.regions[from_id], grouped.regions[to_id]), key=lambda r: VIEWS.index(r.view))
            findings.append(_finding(pair, mappings))
            linked |= {from_id, to_id}
    for region_id, region in grouped.regions.items():
        if region_id not in linked:
            findings.append(_finding([region], mappings))
    side = grouped.side
    assessment = with_subtype(side[ASSESSMENT][0], side.get(ASSESSMENT_SUBTYPE, []))
    return SideRead(side[COMPOSITION][0], assessment, tuple(findings))


def box_to_percent(box: Box, mapping: PixelMapping) -> dict[str, float]:
    """A DICOM pixel box as a Label Studio rectangle value (percent of the rendered image)."""
    (x0, y0), (x1, y1) = mapping.to_png(box[0], box[1]), mapping.to_png(box[2], box[3])
    w, h = mapping.png_width, mapping.png_height
    return {
        "x": 100 * x0 / w,
        "y": 100 * y0 / h,
        "width": 100 * (x1 - x0) / w,
        "height": 100 * (y1 - y0) / h,
        "rotation": 0,
    }
