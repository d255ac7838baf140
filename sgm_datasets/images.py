"""One image into a version: de-identify, write the DICOM, render the 8-bit PNG, hash both (runs in workers)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pydicom import dcmread

from emr_core.deid import Deidentifier, DeidRefusedError
from emr_core.dicom.render import render_dataset
from emr_core.objectstore import open_at
from sgm_datasets.selection import SourceImage


@dataclass(frozen=True)
class ImageOutcome:
    """Where the image went in the version, or why it was left out."""

    source: SourceImage
    reason: str = ""
    patient: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""
    dicom_path: str = ""
    dicom_sha256: str = ""
    png_path: str = ""
    png_sha256: str = ""
    png_width: int = 0
    png_height: int = 0


def _write(data: bytes, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    os.replace(partial, target)
    return hashlib.sha256(data).hexdigest()


def export_image(deid: Deidentifier, data_root: Path, out: Path, image: SourceImage, long_side: int) -> ImageOutcome:
    """Never raises for one bad image: a failure is an outcome with its reason."""
    try:
        with open_at(data_root, image.stored_path) as fp:  # the data folder's storage/ or S3
            ds = dcmread(fp)
    except Exception as exc:  # an unreadable stored file must not stop the other images
        return ImageOutcome(image, reason=f"stored file not readable ({type(exc).__name__})")
    try:
        key = deid.deidentify(ds)
        rendered = render_dataset(ds, long_side)
    except DeidRefusedError as exc:
        return ImageOutcome(image, reason=f"de-identification refused: {exc}")
    except Exception as exc:
        return ImageOutcome(image, reason=f"de-identification failed ({type(exc).__name__})")
    study, sop = str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)
    rel = f"{key.pseudonym}/{study}/{sop}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return ImageOutcome(
        image,
        patient=key.pseudonym,
        study_uid=study,
        series_uid=str(ds.SeriesInstanceUID),
        sop_uid=sop,
        dicom_path=f"dicom/{rel}.dcm",
        dicom_sha256=_write(buffer.getvalue(), out / "dicom" / f"{rel}.dcm"),
        png_path=f"png/{rel}.png",
        png_sha256=_write(rendered.png, out / "png" / f"{rel}.png"),
        png_width=rendered.width,
        png_height=rendered.height,
    )


_worker: tuple[Deidentifier, Path, Path, int] | None = None


def init_worker(secret: bytes, data_root: str, out: str, long_side: int) -> None:
    global _worker  # noqa: PLW0603 - one Deidentifier per worker process
    _worker = (Deidentifier(secret), Path(data_root), Path(out), long_side)


def run_in_worker(image: SourceImage) -> ImageOutcome:
    assert _worker is not None
    deid, data_root, out, long_side = _worker
    return export_image(deid, data_root, out, image, long_side)
