"""Read the index fields of a DICOM file from its header only, never its pixel data.

Speed matters (the index is rebuilt from folders of thousands of files), so the header is
parsed from the first PREFIX_BYTES with pydicom's element generator, stopping before the
pixel data and keeping only our tags; see bench/ingest.py for the figures.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.charset import convert_encodings, decode_bytes, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.errors import InvalidDicomError
from pydicom.filereader import data_element_generator
from pydicom.tag import Tag
from pydicom.uid import UID
from pydicom.valuerep import PN_DELIMS, TEXT_VR_DELIMS

from emr_core.dicom.views import VIEW_CODES, Code, resolve_view
from emr_core.enums import QuarantineReason

MG_SOP_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",  # - For Processing
    "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis Image Storage
    "1.2.840.10008.5.1.4.1.1.13.1.4",  # Breast Projection X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.13.1.5",  # Breast Projection X-Ray Image Storage - For Processing
})  # fmt: skip
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
# Mammogram headers are a few KB; one read of this size covers nearly all of them.
PREFIX_BYTES = 16 * 1024
_KEYWORDS = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyDate", "AccessionNumber",
    "Modality", "Manufacturer", "StudyDescription", "SeriesDescription", "PatientName",
    "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "ProtocolName",
    "ImagerPixelSpacing", "ViewPosition", "StudyInstanceUID", "SeriesInstanceUID",
    "SeriesNumber", "Laterality", "ImageLaterality", "ImageComments",
    "PhotometricInterpretation", "Rows", "Columns", "PixelSpacing", "ViewCodeSequence",
)  # fmt: skip
_TAGS = [Tag(keyword) for keyword in _KEYWORDS]
_KEYWORD_BY_TAG = {int(tag): keyword for tag, keyword in zip(_TAGS, _KEYWORDS, strict=True)}
_VR_BY_TAG = {int(tag): dictionary_VR(tag) for tag in _TAGS}
_CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT"})
_CHARSET_TAG, _VIEW_CODE_TAG, _ROWS_TAG = 0x00080005, 0x00540220, 0x00280010
_GROUP_LENGTH_TAG, _TRANSFER_SYNTAX_TAG = 0x00020000, 0x00020010
_KNOWN_CODE = re.compile(
    rb"(?<![0-9A-Za-z.-])("
    + b"|".join(re.escape(c.encode()) for c in VIEW_CODES)
    + rb")(?=[ \x00]|$)"
)
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class InstanceHeader:
    """Every index column of Study, Series and Instance that comes from one file's header."""

    path: str
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str = ""
    modality: str = ""
    accession_number: str = ""
    study_date: date | None = None
    study_description: str = ""
    series_number: int | None = None
    series_description: str = ""
    patient_id: str = ""
    issuer_of_patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: date | None = None
    patient_sex: str = ""
    manufacturer: str = ""
    photometric_interpretation: str = ""
    rows: int | None = None
    columns: int | None = None
    pixel_spacing_row: float | None = None
    pixel_spacing_col: float | None = None
    laterality: str | None = None
    laterality_source: str | None = None
    view: str | None = None
    view_source: str | None = None

    @property
    def is_mammogram(self) -> bool:
        return self.modality == "MG" or self.sop_class_uid in MG_SOP_CLASSES


@dataclass(frozen=True)
class HeaderError:
    """Why a file cannot be indexed; it goes to quarantine with this reason."""

    path: str
    reason: QuarantineReason
    detail: str


@dataclass(frozen=True)
class _Parsed:
    """Our elements of one header (tag -> raw or parsed element) and its transfer syntax."""

    transfer_syntax: str
    elements: dict[int, Any]


class _Incomplete(Exception):
    """The bytes parsed so far do not hold the whole header."""


class _Unusual(Exception):
    """An encoding the fast path does not handle (deflate, no transfer syntax): use dcmread."""


def read_header(path: str | os.PathLike[str]) -> InstanceHeader | HeaderError:
    """Index one file from its first bytes, reading further only when the header is longer."""
    path = os.fspath(path)
    return _classified(path, lambda: _read(path))


def read_header_bytes(data: bytes, name: str = "<bytes>") -> InstanceHeader | HeaderError:
    """Index a whole DICOM file held in memory (what the receiver has before storing it)."""
    return _classified(name, lambda: _read_buffer(data))


def _classified(path: str, read: Callable[[], _Parsed]) -> InstanceHeader | HeaderError:
    """Run the parse and turn each kind of failure into a quarantine reason."""
    try:
        parsed = read()
    except InvalidDicomError as exc:
        return HeaderError(path, QuarantineReason.NOT_DICOM, str(exc))
    except _Incomplete as exc:
        return HeaderError(path, QuarantineReason.TRUNCATED, str(exc))
    except OSError:
        raise  # the file could not be read at all: not a property of its content
    except Exception as exc:  # noqa: BLE001 - any parser failure is a fact about the file
        return HeaderError(path, QuarantineReason.UNREADABLE, f"{type(exc).__name__}: {exc}")
    return _to_header(path, parsed)


def _read_buffer(data: bytes) -> _Parsed:
    try:
        return _parse(io.BytesIO(data), len(data), len(data), whole=True)
    except _Unusual:
        return _parse_with_dcmread(io.BytesIO(data))


def _read(path: str) -> _Parsed:
    """Parse from the prefix; fall back to the open file, then to dcmread for odd encodings."""
    with open(path, "rb") as fp:
        size = os.fstat(fp.fileno()).st_size
        prefix = fp.read(PREFIX_BYTES)
        try:
            return _parse(io.BytesIO(prefix), len(prefix), size, whole=len(prefix) == size)
        except InvalidDicomError:
            raise
        except _Unusual:
            fp.seek(0)
            return _parse_with_dcmread(fp)
        except Exception:
            # A header longer than the prefix may fail in any way where the bytes stop.
            if len(prefix) == size:
                raise
        fp.seek(0)
        try:
            return _parse(fp, size, size, whole=True)
        except _Unusual:
            fp.seek(0)
            return _parse_with_dcmread(fp)


def _parse(fp: BinaryIO, available: int, size: int, whole: bool) -> _Parsed:
    """Parse up to the pixel data; raise _Incomplete when the bytes ran out before it."""
    if fp.read(132)[128:] != b"DICM":
        raise InvalidDicomError("no 'DICM' marker after the 128-byte preamble: not a DICOM file")
    meta = _elements(fp, False, True, lambda tag, vr, length: tag >> 16 != 2, None, whole)
    meta_end = fp.tell()
    group_length = meta.get(_GROUP_LENGTH_TAG)
    expected_end = 144 + int.from_bytes(group_length.value[:4], "little") if group_length else 0
    if not meta or meta_end < expected_end:
        # 128-byte preamble + "DICM" + this 12-byte element + the group it measures.
        raise _Incomplete(
            f"file ends inside its file meta information ({size} bytes)"
            if whole
            else "prefix too short"
        )
    transfer_syntax = UID(_ascii(meta.get(_TRANSFER_SYNTAX_TAG)))
    if not transfer_syntax.is_transfer_syntax or transfer_syntax.is_deflated:
        raise _Unusual(transfer_syntax)
    implicit, little = transfer_syntax.is_implicit_VR, transfer_syntax.is_little_endian
    at_pixels = lambda tag, vr, length: tag in _PIXEL_TAGS  # noqa: E731
    elements = _elements(fp, implicit, little, at_pixels, _TAGS, whole)
    _check_complete(fp, elements, meta_end, available, size, whole, little)
    return _Parsed(str(transfer_syntax), elements)


def _elements(
    fp: BinaryIO, implicit: bool, little: bool, stop: Any, tags: Any, whole: bool
) -> dict[int, Any]:
    try:
        return {
            int(e.tag): e
            for e in data_element_generator(
                fp, implicit, little, stop_when=stop, specific_tags=tags
            )
        }
    except (EOFError, struct.error) as exc:
        raise _Incomplete(f"header cut short: {exc}" if whole else "prefix too short") from None


def _parse_with_dcmread(fp: BinaryIO) -> _Parsed:
    """Deflated or odd files: let dcmread inflate or guess the encoding (no completeness check)."""
    ds = dcmread(fp, stop_before_pixels=True, specific_tags=_TAGS)
    elements = {int(tag): ds.get_item(tag) for tag in ds.keys()}
    return _Parsed(str(ds.file_meta.get("TransferSyntaxUID", "")), elements)


def _check_complete(
    fp: BinaryIO,
    elements: dict[int, Any],
    meta_end: int,
    available: int,
    size: int,
    whole: bool,
    little: bool,
) -> None:
    """pydicom accepts a cut file silently, so check where the parse stopped ourselves."""
    pos = fp.tell()
    pixel_end = _pixel_data_end(fp, pos, available, little)
    if pixel_end is None:
        if not whole:
            raise _Incomplete("prefix too short")
        if pos <= meta_end:
            raise _Incomplete(f"file ends ({size} bytes) before its data set")
        if pos > size or _last_value_overruns(elements, size):
            raise _Incomplete(f"file ends ({size} bytes) inside an element")
        if _ROWS_TAG in elements or _ascii(elements.get(0x00080016)) in MG_SOP_CLASSES:
            raise _Incomplete(f"file ends ({size} bytes) before its pixel data")
    elif pixel_end != _UNDEFINED_LENGTH and pixel_end > size:
        raise _Incomplete(f"pixel data cut: file has {size} bytes, header promises {pixel_end}")


def _last_value_overruns(elements: dict[int, Any], size: int) -> bool:
    """True when the last element read promises more bytes than the file has."""
    if not elements:
        return False
    last = elements[max(elements)]
    if not isinstance(last, RawDataElement) or last.length == _UNDEFINED_LENGTH:
        return False
    return last.value_tell + last.length > size


def _pixel_data_end(fp: BinaryIO, pos: int, available: int, little: bool) -> int | None:
    """End offset promised by the pixel data element at pos (or undefined), None if none."""
    if pos + 12 > available:
        return None
    head = fp.read(12)
    fp.seek(pos)
    endian = "<" if little else ">"
    group, elem = struct.unpack(f"{endian}HH", head[:4])
    if (group << 16 | elem) not in _PIXEL_TAGS:
        return None
    explicit = head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")
    offset = 12 if explicit else 8
    length = struct.unpack(f"{endian}L", head[offset - 4 : offset])[0]
    return length if length == _UNDEFINED_LENGTH else pos + offset + length


def _to_header(path: str, parsed: _Parsed) -> InstanceHeader | HeaderError:
    """Convert the parsed elements, refusing files without the UIDs that place them."""
    text = _values(parsed.elements)
    missing = [uid for uid in REQUIRED_UIDS if not text.get(uid)]
    too_long = [uid for uid in REQUIRED_UIDS if len(text.get(uid, "")) > 64]
    if missing or too_long:
        detail = "missing " + ", ".join(missing) if missing else "UID over 64 chars: "
        return HeaderError(path, QuarantineReason.MISSING_UID, detail + ", ".join(too_long))
    spacing = _spacing(text)
    view = resolve_view(text, _view_codes(parsed.elements))
    return InstanceHeader(
        path=path,
        study_uid=text["StudyInstanceUID"],
        series_uid=text["SeriesInstanceUID"],
        sop_instance_uid=text["SOPInstanceUID"],
        sop_class_uid=text["SOPClassUID"],
        transfer_syntax_uid=parsed.transfer_syntax,
        modality=text.get("Modality", "").upper(),
        accession_number=text.get("AccessionNumber", ""),
        study_date=_date(text.get("StudyDate", "")),
        study_description=text.get("StudyDescription", ""),
        series_number=_int(text.get("SeriesNumber", "")),
        series_description=text.get("SeriesDescription", ""),
        patient_id=text.get("PatientID", ""),
        issuer_of_patient_id=text.get("IssuerOfPatientID", ""),
        patient_name=text.get("PatientName", ""),
        patient_birth_date=_date(text.get("PatientBirthDate", "")),
        patient_sex=text.get("PatientSex", "").upper(),
        manufacturer=text.get("Manufacturer", ""),
        photometric_interpretation=text.get("PhotometricInterpretation", "").upper(),
        rows=_int(text.get("Rows", "")),
        columns=_int(text.get("Columns", "")),
        pixel_spacing_row=spacing[0],
        pixel_spacing_col=spacing[1],
        laterality=view.laterality,
        laterality_source=view.laterality_source,
        view=view.view,
        view_source=view.view_source,
    )


def _values(elements: dict[int, Any]) -> dict[str, str]:
    """Our attributes as text, decoded straight from the raw bytes.

    pydicom's Dataset conversion (hooks, validation, value classes) cost more than the parse
    itself; decoding the few values we need with pydicom's own character-set decoder gives
    the same strings at a fraction of the cost.
    """
    encodings = _encodings(elements.get(_CHARSET_TAG))
    values: dict[str, str] = {}
    for tag, element in elements.items():
        keyword = _KEYWORD_BY_TAG.get(tag)
        if keyword is not None and tag != _VIEW_CODE_TAG:
            values[keyword] = _decode(element, _VR_BY_TAG[tag], encodings).strip(" \x00")
    return values


def _encodings(element: Any) -> list[str]:
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
        return (
            str(int.from_bytes(value[:2], "little" if little else "big")) if len(value) >= 2 else ""
        )
    if vr == "PN":
        # As pydicom's PersonName: each "=" group decoded on its own, empty tail groups dropped.
        groups = [decode_bytes(g, encodings, PN_DELIMS) for g in value.rstrip(b" \x00").split(b"=")]
        while groups and not groups[-1]:
            groups.pop()
        return "=".join(groups)
    if vr in _CHARSET_VRS:
        return decode_bytes(value, encodings, TEXT_VR_DELIMS)
    return value.decode("latin-1")  # UI, CS, DA, IS, DS: the default repertoire


def _ascii(element: Any) -> str:
    value = element.value if element is not None else None
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    return "" if value is None else str(value)


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _date(value: str) -> date | None:
    digits = value.replace(".", "").replace("-", "")
    try:
        return (
            date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
        )
    except ValueError:
        return None


def _spacing(text: dict[str, str]) -> tuple[float | None, float | None]:
    """Row and column spacing in mm: PixelSpacing when present, else ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        parts = text.get(keyword, "").split("\\")
        try:
            if len(parts) == 2:
                return float(parts[0]), float(parts[1])
        except ValueError:
            continue
    return None, None


def _view_codes(elements: dict[int, Any]) -> list[Code]:
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
            element = convert_raw_data_element(
                element, encoding=_encodings(elements.get(_CHARSET_TAG))
            )
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
