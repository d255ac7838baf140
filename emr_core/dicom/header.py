"""Read the index fields of a DICOM file from its header only, never its pixel data.

Speed matters (the index is rebuilt from folders of thousands of files), so the header is
parsed from the first PREFIX_BYTES with pydicom's element generator, stopping before the
pixel data and keeping only our tags; see bench/ingest.py for the figures.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.filereader import data_element_generator
from pydicom.uid import UID
from pydicom.valuerep import VR

from emr_core.dicom.header_values import (
    INDEX_TAGS,
    ascii_value,
    element_values,
    parse_date,
    parse_int,
    pixel_spacing,
    view_codes,
)
from emr_core.dicom.views import resolve_view
from emr_core.enums import QuarantineReason
from emr_core.vocabulary.dicom import MAMMOGRAPHY_SOP_CLASSES

MG_SOP_CLASSES = MAMMOGRAPHY_SOP_CLASSES
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
# Mammogram headers are a few KB; one read of this size covers nearly all of them.
PREFIX_BYTES = 16 * 1024
_ROWS_TAG = 0x00280010
_TRANSFER_SYNTAX_TAG = 0x00020010
_META_SOP_CLASS_TAG, _META_SOP_INSTANCE_TAG = 0x00020002, 0x00020003
_KNOWN_VRS = frozenset(vr.value for vr in VR if len(vr.value) == 2)
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
    # What the file meta (group 0002) says the file holds; "" when there is none.
    meta_sop_class_uid: str = ""
    meta_sop_instance_uid: str = ""

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
    """Our elements of one header (tag -> raw or parsed element), its transfer syntax, its meta."""

    transfer_syntax: str
    elements: dict[int, Any]
    meta_sop_class: str = ""
    meta_sop_instance: str = ""


class _Incomplete(Exception):
    """The bytes parsed so far do not hold the whole header."""


class _Unusual(Exception):
    """An encoding the fast path does not handle (deflate, no transfer syntax): use dcmread."""


class _MalformedError(Exception):
    """The data set is encoded against the rules: quarantine with this reason."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _EncodingCheck:
    """A stop_when callback that sees every top-level element: refuse what breaks the encoding."""

    def __init__(self, implicit: bool) -> None:
        self.implicit = implicit

    def __call__(self, tag: int, vr: str | None, length: int) -> bool:
        name = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if tag >> 16 == 2:
            raise _MalformedError(
                QuarantineReason.FILE_META_IN_DATASET, f"file meta element {name} inside the data set"
            )
        if not self.implicit and vr is None:
            raise _MalformedError(
                QuarantineReason.IMPLICIT_VR_IN_EXPLICIT, f"element {name} is implicit VR in an explicit VR data set"
            )
        if vr is not None and vr not in _KNOWN_VRS:
            raise _MalformedError(QuarantineReason.UNKNOWN_VR, f"element {name} has unknown VR {vr!r}")
        return tag in _PIXEL_TAGS


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
        return _to_header(path, read())  # converting our elements may fail too (an unknown VR)
    except InvalidDicomError as exc:
        return HeaderError(path, QuarantineReason.NOT_DICOM, str(exc))
    except _Incomplete as exc:
        return HeaderError(path, QuarantineReason.TRUNCATED, str(exc))
    except _MalformedError as exc:
        return HeaderError(path, exc.reason, str(exc))
    except OSError:
        raise  # the file could not be read at all: not a property of its content
    except NotImplementedError as exc:  # pydicom: "Unknown Value Representation ..." (dcmread path)
        reason = QuarantineReason.UNKNOWN_VR if "Value Representation" in str(exc) else QuarantineReason.UNREADABLE
        return HeaderError(path, reason, str(exc))
    except Exception as exc:
        return HeaderError(path, QuarantineReason.UNREADABLE, f"{type(exc).__name__}: {exc}")


def _read_buffer(data: bytes) -> _Parsed:
    try:
        return _parse(io.BytesIO(data), len(data), len(data), whole=True)
    except _Unusual:
        return _parse_with_dcmread(io.BytesIO(data))


def read_header_stream(fp: BinaryIO, size: int, name: str) -> InstanceHeader | HeaderError:
    """Index an object through a seekable reader (an S3 object read by ranges), reading as little."""
    return _classified(name, lambda: _read_open(fp, size))


def _read(path: str) -> _Parsed:
    with open(path, "rb") as fp:
        return _read_open(fp, os.fstat(fp.fileno()).st_size)


def _read_open(fp: BinaryIO, size: int) -> _Parsed:
    """Parse from the prefix; fall back to the open file, then to dcmread for odd encodings."""
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
    meta = _meta_elements(fp, size, whole)
    meta_end = fp.tell()
    transfer_syntax = UID(ascii_value(meta.get(_TRANSFER_SYNTAX_TAG)))
    if not transfer_syntax.is_transfer_syntax or transfer_syntax.is_deflated:
        raise _Unusual(transfer_syntax)
    implicit, little = transfer_syntax.is_implicit_VR, transfer_syntax.is_little_endian
    elements = _elements(fp, implicit, little, _EncodingCheck(implicit), INDEX_TAGS, whole)
    _check_complete(fp, elements, meta_end, available, size, whole, little)
    return _Parsed(
        str(transfer_syntax),
        elements,
        ascii_value(meta.get(_META_SOP_CLASS_TAG)),
        ascii_value(meta.get(_META_SOP_INSTANCE_TAG)),
    )


def _meta_elements(fp: BinaryIO, size: int, whole: bool) -> dict[int, Any]:
    """The file meta group, exactly as long as its group length says.

    A group 0002 element after that belongs to the data set, where it is an error of its own.
    """
    cut = f"file ends inside its file meta information ({size} bytes)" if whole else "prefix too short"
    start = fp.tell()
    head = fp.read(12)
    if head[:6] == b"\x02\x00\x00\x00UL":  # (0002,0000) UL: the group length
        length = int.from_bytes(head[8:12], "little")
        body = fp.read(length)
        if len(body) < length:
            raise _Incomplete(cut)
        return _elements(io.BytesIO(head + body), False, True, None, None, True)
    fp.seek(start)  # no group length (not conformant, but readable): the group ends where group 0002 does
    meta = _elements(fp, False, True, lambda tag, vr, length: tag >> 16 != 2, None, whole)
    if not meta:
        raise _Incomplete(cut)
    return meta


def _elements(fp: BinaryIO, implicit: bool, little: bool, stop: Any, tags: Any, whole: bool) -> dict[int, Any]:
    try:
        return {int(e.tag): e for e in data_element_generator(fp, implicit, little, stop_when=stop, specific_tags=tags)}
    except (EOFError, struct.error) as exc:
        raise _Incomplete(f"header cut short: {exc}" if whole else "prefix too short") from None


def _parse_with_dcmread(fp: BinaryIO) -> _Parsed:
    """Deflated or odd files: let dcmread inflate or guess the encoding (no completeness check)."""
    ds = dcmread(fp, stop_before_pixels=True, specific_tags=INDEX_TAGS)
    elements = {int(tag): ds.get_item(tag) for tag in ds.keys()}  # noqa: SIM118 - a Dataset iterates elements
    meta = ds.file_meta
    return _Parsed(
        str(meta.get("TransferSyntaxUID", "")),
        elements,
        str(meta.get("MediaStorageSOPClassUID", "")),
        str(meta.get("MediaStorageSOPInstanceUID", "")),
    )


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
        if _ROWS_TAG in elements or ascii_value(elements.get(0x00080016)) in MG_SOP_CLASSES:
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
    text = element_values(parsed.elements)
    missing = [uid for uid in REQUIRED_UIDS if not text.get(uid)]
    too_long = [uid for uid in REQUIRED_UIDS if len(text.get(uid, "")) > 64]
    if missing or too_long:
        detail = "missing " + ", ".join(missing) if missing else "UID over 64 chars: "
        return HeaderError(path, QuarantineReason.MISSING_UID, detail + ", ".join(too_long))
    spacing = pixel_spacing(text)
    view = resolve_view(text, view_codes(parsed.elements))
    return InstanceHeader(
        path=path,
        study_uid=text["StudyInstanceUID"],
        series_uid=text["SeriesInstanceUID"],
        sop_instance_uid=text["SOPInstanceUID"],
        sop_class_uid=text["SOPClassUID"],
        transfer_syntax_uid=parsed.transfer_syntax,
        modality=text.get("Modality", "").upper(),
        accession_number=text.get("AccessionNumber", ""),
        study_date=parse_date(text.get("StudyDate", "")),
        study_description=text.get("StudyDescription", ""),
        series_number=parse_int(text.get("SeriesNumber", "")),
        series_description=text.get("SeriesDescription", ""),
        patient_id=text.get("PatientID", ""),
        issuer_of_patient_id=text.get("IssuerOfPatientID", ""),
        patient_name=text.get("PatientName", ""),
        patient_birth_date=parse_date(text.get("PatientBirthDate", "")),
        patient_sex=text.get("PatientSex", "").upper(),
        manufacturer=text.get("Manufacturer", ""),
        photometric_interpretation=text.get("PhotometricInterpretation", "").upper(),
        rows=parse_int(text.get("Rows", "")),
        columns=parse_int(text.get("Columns", "")),
        pixel_spacing_row=spacing[0],
        pixel_spacing_col=spacing[1],
        laterality=view.laterality,
        laterality_source=view.laterality_source,
        view=view.view,
        view_source=view.view_source,
        meta_sop_class_uid=parsed.meta_sop_class,
        meta_sop_instance_uid=parsed.meta_sop_instance,
    )


def meta_mismatch(header: InstanceHeader) -> str | None:
    """Why the file meta contradicts the data set (SOP Class or Instance UID), or None."""
    pairs = (
        ("SOP Class", header.meta_sop_class_uid, header.sop_class_uid),
        ("SOP Instance", header.meta_sop_instance_uid, header.sop_instance_uid),
    )
    for name, in_meta, in_dataset in pairs:
        if in_meta and in_meta != in_dataset:
            return f"file meta names {name} UID {in_meta}; the data set has {in_dataset}"
    return None
