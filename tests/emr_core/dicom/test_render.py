"""Rendering DICOM to PNG: VOI, MONOCHROME1, downscaling, the coordinate mapping, the cache."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from emr_core.dicom.render import cache_path, cached_render, encode_png, mapping_for, png_size, render_png
from emr_core.settings import Settings
from tests.conftest import require_peer

MG = "1.2.840.10008.5.1.4.1.1.1.2"


def _write(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", **attrs: object) -> Path:
    """A minimal single-frame 16-bit greyscale Part 10 file."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(MG)
    ds.SOPClassUID, ds.SOPInstanceUID = MG, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_window_maps_values_like_ps33_linear(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000, 1500, 2000, 4000]], np.uint16).repeat(4, axis=0)
    path = _write(tmp_path / "w.dcm", pixels, WindowCenter=[1500, 900], WindowWidth=[1001, 50])
    grey = _grey(render_png(path).png)[0]
    # First window only: centre 1500, width 1001 spans [1000, 2000].
    assert grey[0] == 0 and grey[1] == 0 and grey[3] == 255 and grey[4] == 255
    assert abs(int(grey[2]) - 127) <= 1


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    pixels = np.array([[100, 3000]], np.uint16).repeat(2, axis=0)
    attrs: dict[str, Any] = {"WindowCenter": 1550, "WindowWidth": 2900}
    mono2 = _grey(render_png(_write(tmp_path / "m2.dcm", pixels, **attrs)).png)[0]
    mono1 = _grey(render_png(_write(tmp_path / "m1.dcm", pixels, "MONOCHROME1", **attrs)).png)[0]
    assert mono2[0] < 10 and mono2[1] > 245
    assert list(mono1) == [255 - int(v) for v in mono2]


def test_voi_lut_sequence_wins_over_window(tmp_path: Path) -> None:
    item = Dataset()
    item.LUTDescriptor = [4, 10, 8]  # 4 entries, first mapped value 10, 8-bit output
    item.LUTData = np.array([0, 50, 200, 255], "<u2").tobytes()
    pixels = np.array([[0, 10, 11, 12, 13, 500]], np.uint16).repeat(2, axis=0)
    path = _write(tmp_path / "lut.dcm", pixels, VOILUTSequence=[item], WindowCenter=5000, WindowWidth=10)
    assert list(_grey(render_png(path).png)[0]) == [0, 0, 50, 200, 255, 255]


def test_rescale_and_min_max_without_window(tmp_path: Path) -> None:
    pixels = np.array([[200, 400, 600]], np.uint16).repeat(2, axis=0)
    path = _write(tmp_path / "mm.dcm", pixels, RescaleSlope=2, RescaleIntercept=-100)
    assert list(_grey(render_png(path).png)[0]) == [0, 127, 255]


def test_downscale_keeps_aspect_and_never_enlarges() -> None:
    assert png_size(3328, 4096, 1024) == (832, 1024)
    assert png_size(4096, 1000, 1024) == (1024, 250)
    assert png_size(500, 300, 1024) == (500, 300)
    with pytest.raises(ValueError):
        png_size(0, 10)


def test_mapping_round_trips_and_hits_the_lesion(tmp_path: Path) -> None:
    pixels = np.full((3000, 2000), 100, np.uint16)
    pixels[1200:1500, 600:900] = 3000  # a bright square at DICOM x 600–900, y 1200–1500
    rendered = render_png(_write(tmp_path / "sq.dcm", pixels, WindowCenter=1550, WindowWidth=2900), 1024)
    mapping = rendered.mapping
    assert (rendered.width, rendered.height) == (683, 1024) == Image.open(io.BytesIO(rendered.png)).size
    assert mapping == mapping_for(2000, 3000, 1024)
    for x, y in [(0, 0), (2000, 3000), (600.25, 1499.5), (1234.5, 17.0)]:
        back = mapping.to_dicom(*mapping.to_png(x, y))
        assert back == pytest.approx((x, y), abs=1e-9)
    ys, xs = np.nonzero(_grey(rendered.png) > 200)
    (x0, y0), (x1, y1) = mapping.to_png(600, 1200), mapping.to_png(900, 1500)
    assert abs(xs.min() - x0) <= 1 and abs(xs.max() + 1 - x1) <= 1
    assert abs(ys.min() - y0) <= 1 and abs(ys.max() + 1 - y1) <= 1


def test_cached_render_writes_once_under_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "sgm")
    path = _write(tmp_path / "c.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8), WindowCenter=32, WindowWidth=64)
    png = cached_render(settings, "1.2.3.4", path, 1024)
    assert png == settings.root / "rendered" / "1024" / "1.2.3.4.png" == cache_path(settings, "1.2.3.4")
    first = png.stat().st_mtime_ns
    os.utime(png, ns=(first - 10**9, first - 10**9))
    assert cached_render(settings, "1.2.3.4", path, 1024).stat().st_mtime_ns == first - 10**9
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    hostile = cache_path(settings, "../../etc/passwd")
    assert hostile.parent == settings.root / "rendered" / "1024"


def test_matches_dcmj2pnm_on_synthetic_mammograms(tmp_path: Path) -> None:
    require_peer(shutil.which("dcmj2pnm") is not None, "dcmtk dcmj2pnm not installed")
    from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

    generate_corpus(tmp_path / "c", CorpusOptions(patients=1, seed=11, columns=1200, rows=1600, prior_fraction=0))
    files = sorted((tmp_path / "c" / "dicom").rglob("*.dcm"))
    diffs = []
    for i, path in enumerate(files):
        ref = tmp_path / f"ref{i}.png"
        subprocess.run(["dcmj2pnm", "--write-png", "+Wi", "1", "+Syv", "1024", str(path), str(ref)], check=True)
        ours = _grey(render_png(path, 1024).png).astype(float)
        theirs = np.asarray(Image.open(ref)).astype(float)
        assert ours.shape == theirs.shape == (1024, 768)
        diffs.append(np.abs(ours - theirs).mean())
    assert len(diffs) == 4 and max(diffs) < 0.5, diffs


def test_png_encoder_is_lossless_and_standard() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (3, 7), (257, 131)]:
        grey = rng.integers(0, 256, shape, dtype=np.uint8)
        decoded = Image.open(io.BytesIO(encode_png(grey, 6)))
        assert decoded.mode == "L" and np.array_equal(np.asarray(decoded), grey)
