"""Part 10 files assembled from element bytes that pydicom encoded once and that are reused while they repeat."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import cast

from pydicom.charset import default_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.sequence import Sequence

# (keyword, value): a value is hashable (tuples for multiple values; for a sequence, a tuple of items, each a
# tuple of elements) so that the same element, hence the same bytes, is found again.
Element = tuple[str, object]
PREAMBLE = b"\x00" * 128 + b"DICM"
# Explicit VR little endian, the transfer syntax of every file the generator writes.
TRANSFER_SYNTAX = (False, True)


@cache
def _tag_vr(keyword: str) -> tuple[int, str]:
    """Tag and dictionary VR of a keyword."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"unknown DICOM keyword {keyword!r}")
    vr = dictionary_VR(tag)
    if len(vr) != 2:
        # An ambiguous VR (US or SS, OB or OW) depends on other elements: the caller must resolve it.
        raise ValueError(f"{keyword} has the ambiguous VR {vr!r}")
    return tag, vr


def as_dataset(elements: Iterable[Element]) -> Dataset:
    """A pydicom Dataset (or sequence item) holding these elements."""
    item = Dataset()
    for keyword, value in elements:
        setattr(item, keyword, _pydicom_value(_tag_vr(keyword)[1], value))
    return item


def _pydicom_value(vr: str, value: object) -> object:
    """The value as it would have been assigned to a Dataset (lists for sequences and multiple values)."""
    if vr == "SQ":
        return Sequence([as_dataset(item) for item in cast(tuple[tuple[Element, ...], ...], value)])
    if isinstance(value, tuple):
        return list(value)
    return value


def _buffer() -> DicomBytesIO:
    """An in-memory file in the generator's transfer syntax."""
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = TRANSFER_SYNTAX
    return fp


def encode_element(keyword: str, value: object, encodings: str) -> bytes:
    """One element encoded by pydicom exactly as Dataset.save_as writes it."""
    tag, vr = _tag_vr(keyword)
    fp = _buffer()
    write_data_element(fp, DataElement(tag, vr, _pydicom_value(vr, value)), encodings)
    return fp.getvalue()


class ElementEncoder:
    """Element bytes cached by (keyword, value, character set), so that each repeat costs a dict lookup."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._bytes: dict[tuple[str, type, object, str], tuple[int, bytes]] = {}

    def element(self, keyword: str, value: object, encodings: str) -> tuple[int, bytes]:
        """(tag, bytes) of one element."""
        # The type is part of the key: 0 == 0.0 == False, yet pydicom may write them differently.
        key = (keyword, type(value), value, encodings)
        found = self._bytes.get(key)
        if found is None:
            if len(self._bytes) >= self._limit:
                # Unique UIDs would grow the cache forever; the repeating elements come back within an image.
                self._bytes.clear()
            found = self._bytes[key] = (_tag_vr(keyword)[0], encode_element(keyword, value, encodings))
        return found

    def group(self, elements: Iterable[Element], encodings: str) -> bytes:
        """The elements' bytes in ascending tag order, the order pydicom writes a dataset in."""
        encoded = sorted(self.element(keyword, value, encodings) for keyword, value in elements)
        return b"".join(data for _, data in encoded)

    def file_meta(self, elements: Iterable[Element]) -> bytes:
        """The file meta group, led by its group length as write_file_meta_info computes it."""
        group = self.group(elements, default_encoding)
        return self.element("FileMetaInformationGroupLength", len(group), default_encoding)[1] + group


@cache
def _pixel_header(vr: str, length: int) -> bytes:
    """Tag, VR and length of a Pixel Data element of `length` bytes, as pydicom writes them."""
    fp = _buffer()
    write_data_element(fp, DataElement(_pixel_tag(), vr, bytes(length)), default_encoding)
    return fp.getvalue()[: -length or None]


@cache
def _pixel_tag() -> int:
    """(7FE0,0010)."""
    tag = tag_for_keyword("PixelData")
    assert tag is not None
    return tag


def pixel_data(vr: str, data: bytes) -> list[bytes]:
    """The Pixel Data element as header + data, without copying the data."""
    if len(data) % 2:
        raise ValueError("pixel data of odd length would need padding")
    return [_pixel_header(vr, len(data)), data]


def part10(meta: bytes, dataset: bytes, tail: Iterable[bytes] = ()) -> bytes:
    """A whole file: preamble, DICM prefix, file meta group, dataset, then trailing bytes (pixel data)."""
    return b"".join([PREAMBLE, meta, dataset, *tail])
