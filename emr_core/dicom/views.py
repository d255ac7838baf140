"""Normalise breast laterality and mammography view from the several places devices put them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from emr_core.vocabulary.dicom import DEPRECATED_VIEW_CODES, ViewPosition
from emr_core.vocabulary.dicom import VIEW_CODES as CID_4014

# CID 4014 "View for Mammography": SNOMED-RT (SRT) and SNOMED CT (SCT) code value -> view.
VIEW_CODES: dict[str, str] = {
    **{code: view.value for view, c in CID_4014.items() for code in (c.srt, c.sct)},
    **{code: view.value for code, view in DEPRECATED_VIEW_CODES.items()},
}
VIEW_NAMES = frozenset(v.value for v in ViewPosition if v is not ViewPosition.SPECIMEN)
# "Bilateral" in free text usually describes the study, not the image: only the coded
# attributes may say B (both breasts on one image).
_SIDE_WORDS = {"L": "L", "LEFT": "L", "LT": "L", "R": "R", "RIGHT": "R", "RT": "R"}
_ATTRIBUTE_SIDES = {"L": "L", "R": "R", "B": "B"}
# Longest phrases first, so that "medio-lateral oblique" is not read as "medio-lateral".
_VIEW_PHRASES = (
    ("CRANIO CAUDAL EXAGGERATED LATERALLY", "XCCL"),
    ("CRANIO CAUDAL EXAGGERATED MEDIALLY", "XCCM"),
    ("MEDIO LATERAL OBLIQUE", "MLO"),
    ("LATERO MEDIAL OBLIQUE", "LMO"),
    ("CAUDO CRANIAL", "FB"),
    ("CRANIO CAUDAL", "CC"),
    ("MEDIO LATERAL", "ML"),
    ("LATERO MEDIAL", "LM"),
)
_DESCRIPTION_KEYWORDS = ("SeriesDescription", "ImageComments", "ProtocolName")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True)
class ViewInfo:
    """Laterality (L/R/B) and view (CC, MLO, ...) with the attribute each came from."""

    laterality: str | None = None
    laterality_source: str | None = None
    view: str | None = None
    view_source: str | None = None


@dataclass(frozen=True)
class Code:
    """One coded item of ViewCodeSequence."""

    value: str
    scheme: str = ""
    meaning: str = ""


def resolve_view(values: Mapping[str, str], view_codes: Sequence[Code] = ()) -> ViewInfo:
    """Pick laterality and view from header values (keyed by DICOM keyword), best source first."""
    laterality, lat_source = _laterality(values)
    view, view_source = _view(values, view_codes)
    return ViewInfo(laterality, lat_source, view, view_source)


def _laterality(values: Mapping[str, str]) -> tuple[str | None, str | None]:
    for keyword in ("ImageLaterality", "Laterality"):
        found = _ATTRIBUTE_SIDES.get(values.get(keyword, "").strip().upper())
        if found:
            return found, keyword
    for keyword in _DESCRIPTION_KEYWORDS:
        found = parse_description(values.get(keyword, ""))[0]
        if found:
            return found, keyword
    return None, None


def _view(values: Mapping[str, str], view_codes: Sequence[Code]) -> tuple[str | None, str | None]:
    for code in view_codes:
        found = VIEW_CODES.get(code.value.strip()) or parse_description(code.meaning)[1]
        if found:
            return found, "ViewCodeSequence"
    position = _NON_ALNUM.sub("", values.get("ViewPosition", "").upper())
    if position in VIEW_NAMES:
        return position, "ViewPosition"
    for keyword in _DESCRIPTION_KEYWORDS:
        found = parse_description(values.get(keyword, ""))[1]
        if found:
            return found, keyword
    return None, None


def parse_description(text: str) -> tuple[str | None, str | None]:
    """Laterality and view in free text such as 'L CC', 'RMLO', 'LEFT MLO', 'R cranio-caudal'."""
    words = " " + _NON_ALNUM.sub(" ", text.upper()) + " "
    for phrase, name in _VIEW_PHRASES:
        words = words.replace(f" {phrase} ", f" {name} ")
    laterality: str | None = None
    view: str | None = None
    for token in words.split():
        token_lat, token_view = _parse_token(token)
        laterality = laterality or token_lat
        view = view or token_view
    return laterality, view


def _parse_token(token: str) -> tuple[str | None, str | None]:
    if token in VIEW_NAMES:
        return None, token
    if token in _SIDE_WORDS:
        return _SIDE_WORDS[token], None
    # Glued forms such as "LCC" or "RMLO": a side letter followed by a known view.
    if token[0] in "LR" and token[1:] in VIEW_NAMES:
        return token[0], token[1:]
    return None, None
