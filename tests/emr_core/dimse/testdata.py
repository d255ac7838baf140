"""Test inputs dcmtk cannot make here: JPEG 2000 (via Pillow's OpenJPEG) and malformed data sets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless


def write_j2k(source: Path, target: Path) -> str:
    """source re-encoded as JPEG 2000 lossless (dcmtk 3.6.7 has no J2K codec); returns the syntax."""
    ds = dcmread(source)
    pixels = ds.pixel_array.astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG2000", irreversible=False)
    codestream = buffer.getvalue()
    # Pillow writes a JP2 file; DICOM carries the bare codestream, which starts at FF4FFF51.
    ds.PixelData = encapsulate([codestream[codestream.index(b"\xff\x4f\xff\x51") :]])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.save_as(target, enforce_file_format=True)
    return str(JPEG2000Lossless)


def dataset_without_study_uid(target: Path) -> Path:
    """A small MG object lacking its Study Instance UID: a sender bug the receiver must refuse."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "dicom"))
    from tests.support.dicom_factory import mg_dataset, write

    return write(target, mg_dataset(StudyInstanceUID=None))


def truncated_copy(source: Path, target: Path) -> Path:
    """source with the last third of its pixel data cut off."""
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    target.write_bytes(data[: len(data) * 2 // 3])
    return target


def send_raw(port: int, path: Path, called: str = "SGM") -> int:
    """C-STORE the file's bytes exactly as they are (pynetdicom chunked send); returns the status."""
    from pynetdicom import AE, _config
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
        DigitalMammographyXRayImageStorageForPresentation as MG,
    )

    previous, _config.STORE_SEND_CHUNKED_DATASET = _config.STORE_SEND_CHUNKED_DATASET, True
    try:
        ae = AE("RAWSENDER")
        ae.add_requested_context(MG, dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", port, ae_title=called)
        assert assoc.is_established
        status = assoc.send_c_store(path)
        assoc.release()
        return int(status.Status)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = previous
