"""Index values decoded straight from raw header elements (character sets, dates, codes)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.tag import Tag
from pydicom.valuerep import PN_DELIMS, TEXT_VR_DELIMS

from emr_core.dicom.views import VIEW_CODES, Code

INDEX_KEYWORDS = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyDate", "AccessionNumber",
    "Modality", "Manufacturer", "StudyDescription", "SeriesDescription", "PatientName",
    "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "ProtocolName",
    "ImagerPixelSpacing", "ViewPosition", "StudyInstanceUID", "SeriesInstanceUID",
    "SeriesNumber", "Laterality", "ImageLaterality", "ImageComments",
    "PhotometricInterpretation", "Rows", "Columns", "PixelSpacing", "ViewCodeSequence",
)  # fmt: skip
INDEX_TAGS = [Tag(keyword) for keyword in INDEX_KEYWORDS]
_KEYWORD_BY_TAG = {int(tag): keyword for tag, keyword in zip(INDEX_TAGS, INDEX_KEYWORDS, strict=True)}
_VR_BY_TAG = {int(tag): dictionary_VR(tag) for tag in INDEX_TAGS}
_CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT"})
_CHARSET_TAG, _VIEW_CODE_TAG = 0x00080005, 0x00540220
_KNOWN_CODE = re.compile(
    rb"(?<![0-9A-Za-z.-])(" + b"|".join(re.escape(c.encode()) for c in VIEW_CODES) + rb")(?=[ \x00]|$)"
)


def element_values(elements: dict[int, Any]) -> dict[str, str]:
    """Our attributes as text, decoded straight from the raw bytes.

    pydicom's Dataset conversion (hooks, validation, value classes) cost more than the parse
    itself; decoding the few values we need with pydicom's own character-set decoder gives
    the same strings at a fraction of the cost.
    """
    encodings = character_encodings(elements.get(_CHARSET_TAG))
    values: dict[str, str] = {}
    for tag, element in elements.items():
        keyword = _KEYWORD_BY_TAG.get(tag)
        if keyword is not None and tag != _VIEW_CODE_TAG:
            values[keyword] = _decode(element, _VR_BY_TAG[tag], encodings).strip(" \x00")
    return values


def character_encodings(element: Any) -> list[str]:
    value = element.value if element is not None else None
    if not value:
        return [default_encoding]
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").split("\\")
    terms = [value] if isinstance(value, str) else list(value)
    return convert_encodings([t.strip(" \x00") for t in terms])


def _decode(element: Any, vr: str, encodings: list[str]) -> str:
    value = element.value
    if not isinstance(value, bytes):
        return "" if value is None else str(value)
    if vr == "US":
        little = getattr(element, "is_little_endian", True)
        return str(int.from_bytes(value[:2], "little" if little else "big")) if len(value) >= 2 else ""
    if vr == "PN":
        # As pydicom's PersonName: each "=" group decoded on its own, empty tail groups dropped.
        groups = [decode_bytes(g, encodings, PN_DELIMS) for g in value.rstrip(b" \x00").split(b"=")]
        while groups and not groups[-1]:
            groups.pop()
        return "=".join(groups)
    if vr in _CHARSET_VRS:
        return decode_bytes(value, encodings, TEXT_VR_DELIMS)
    return value.decode("latin-1")  # UI, CS, DA, IS, DS: the default repertoire


def ascii_value(element: Any) -> str:
    value = element.value if element is not None else None
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    return "" if value is None else str(value)


def parse_int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def parse_date(value: str) -> date | None:
    digits = value.replace(".", "").replace("-", "")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
    except ValueError:
        return None


def pixel_spacing(text: dict[str, str]) -> tuple[float | None, float | None]:
    """Row and column spacing in mm: PixelSpacing when present, else ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        parts = text.get(keyword, "").split("\\")
        try:
            if len(parts) == 2:
                return float(parts[0]), float(parts[1])
        except ValueError:
            continue
    return None, None


def view_codes(elements: dict[int, Any]) -> list[Code]:
    """The coded view: a byte search for the known codes, else the parsed sequence."""
    element = elements.get(_VIEW_CODE_TAG)
    if element is None:
        return []
    # Converting the sequence into Datasets took ~20% of the per-file time; a known code
    # value stands alone in its CodeValue element, so a bounded byte search finds it.
    if isinstance(element.value, bytes) and (match := _KNOWN_CODE.search(element.value)):
        return [Code(match.group().decode("ascii"))]
    try:
        if isinstance(element, RawDataElement):
            element = convert_raw_data_element(element, encoding=character_encodings(elements.get(_CHARSET_TAG)))
        return [
            Code(
                str(i.get("CodeValue", "")),
                str(i.get("CodingSchemeDesignator", "")),
                str(i.get("CodeMeaning", "")),
            )
            for i in element.value or []
        ]
    except (TypeError, ValueError, AttributeError, EOFError):
        return []
