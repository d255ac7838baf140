"""Pixels streamed from the source give the same file as pixels read into memory, and only when safe."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from emr_core.deid import Deidentifier
from emr_core.deid.pixels import DEFER_SIZE, detach_pixels
from tests.support.dicom_factory import mg_dataset, write

SECRET = os.urandom(32)


def _large() -> Dataset:
    """256 x 192 x 16 bits: pixels above the deferral size, as every real mammogram's are."""
    return mg_dataset(rows=256, columns=192, BurnedInAnnotation="NO")


def _in_memory_copy(source: Path, out: Path) -> bytes:
    """The file the in-memory path writes: everything read, de-identified, saved."""
    ds = dcmread(source)
    Deidentifier(SECRET).deidentify(ds)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(out, enforce_file_format=True)
    return out.read_bytes()


def _streamed(source: Path) -> bool:
    ds = dcmread(source, defer_size=DEFER_SIZE)
    with source.open("rb") as handle:
        return detach_pixels(ds, handle) is not None


def _implicit(ds: Dataset) -> Dataset:
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds


def _padded(ds: Dataset) -> Dataset:
    ds.DataSetTrailingPadding = b"\0" * 16  # (FFFC,FFFC): an element after the pixels
    return ds


@pytest.mark.parametrize(
    ("name", "dataset", "streamed"),
    [
        ("explicit", _large, True),
        ("implicit", lambda: _implicit(_large()), True),
        ("trailing element", lambda: _padded(_large()), False),
        ("small pixels", lambda: mg_dataset(BurnedInAnnotation="NO"), False),
    ],
)
def test_the_copy_is_byte_for_byte_the_in_memory_one(
    tmp_path: Path, name: str, dataset: Callable[[], Dataset], streamed: bool
) -> None:
    source = write(tmp_path / "in.dcm", dataset())
    assert _streamed(source) is streamed, name
    result = Deidentifier(SECRET).deidentify_file(source, tmp_path / "out")
    assert result.output is not None, result.reason
    assert result.output.read_bytes() == _in_memory_copy(source, tmp_path / "memory.dcm")
    assert dcmread(result.output).PixelData == dcmread(source).PixelData


def test_a_file_rewritten_after_the_read_is_not_streamed(tmp_path: Path) -> None:
    source = write(tmp_path / "in.dcm", _large())
    ds = dcmread(source, defer_size=DEFER_SIZE)
    os.utime(source, (1, 1))  # as if another process had written it since
    with source.open("rb") as handle:
        assert detach_pixels(ds, handle) is None
    assert "PixelData" in ds
