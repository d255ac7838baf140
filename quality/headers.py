"""Header attributes the index does not keep, read again from a stored file (never its pixel data).

The index stores the laterality and view it resolved and the attribute it took each from;
the quality gate re-reads every attribute that can state a side or a view, so that a
disagreement between them (ImageLaterality L, SeriesDescription "R CC") is seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from emr_core.dicom.views import VIEW_CODES, parse_description

_ATTRIBUTE_SIDES = frozenset({"L", "R", "B"})
_DESCRIPTIONS = ("SeriesDescription", "ImageComments", "ProtocolName")
_KEYWORDS = (
    "PresentationIntentType", "BurnedInAnnotation", "ImageLaterality", "Laterality",
    "ViewPosition", "ViewCodeSequence", *_DESCRIPTIONS,
)  # fmt: skip


def header_fields(path: Path | BinaryIO) -> dict[str, Any]:
    """Presentation intent, burned-in annotation, and every side and view the header states (by attribute)."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=list(_KEYWORDS))
    except (OSError, InvalidDicomError, ValueError, EOFError):
        return {"header_readable": False}
    return {
        "header_readable": True,
        "presentation_intent": _text(ds, "PresentationIntentType").upper() or None,
        "burned_in_annotation": _text(ds, "BurnedInAnnotation").upper() or None,
        "header_lateralities": _stated_sides(ds),
        "header_views": _stated_views(ds),
    }


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _stated_sides(ds: Any) -> dict[str, str]:
    """Attribute -> side, for every attribute that states one."""
    sides = {k: _text(ds, k).upper() for k in ("ImageLaterality", "Laterality")}
    found = {k: v for k, v in sides.items() if v in _ATTRIBUTE_SIDES}
    for keyword in _DESCRIPTIONS:
        side = parse_description(_text(ds, keyword))[0]
        if side:
            found[keyword] = side
    return found


def _stated_views(ds: Any) -> dict[str, str]:
    """Attribute -> view (CC, MLO, ...), for every attribute that states one."""
    found: dict[str, str] = {}
    for item in ds.get("ViewCodeSequence") or []:
        code = str(item.get("CodeValue", "")).strip()
        view = VIEW_CODES.get(code) or parse_description(str(item.get("CodeMeaning", "")))[1]
        if view:
            found["ViewCodeSequence"] = view
            break
    position = "".join(ch for ch in _text(ds, "ViewPosition").upper() if ch.isalnum())
    if position:
        found["ViewPosition"] = position
    for keyword in _DESCRIPTIONS:
        view = parse_description(_text(ds, keyword))[1]
        if view:
            found[keyword] = view
    return found
