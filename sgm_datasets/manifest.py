"""The manifest: one row per image, a canonical serialisation, and its sha256 as the version id."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sgm_datasets.images import ImageOutcome

COLUMNS: dict[str, str] = {
    "image_id": "string",  # de-identified SOP Instance UID
    "study_id": "string",
    "series_id": "string",
    "patient": "string",  # pseudonym
    "age": "Int64",
    "laterality": "string",
    "view": "string",
    "height": "int64",
    "width": "int64",
    "density": "string",
    "breast_birads": "string",
    "label_source": "string",  # emr_core.enums.ReadSource: concordant, adjudicated, single, ai_assisted, ...
    "findings": "string",  # JSON list of boxes in DICOM pixels (xmax/ymax exclusive)
    "finding_count": "int64",
    "revisions": "string",  # JSON list of the sha256 of the annotation revisions the read came from
    "split": "string",
    "dicom_path": "string",
    "dicom_sha256": "string",
    "png_path": "string",
    "png_sha256": "string",
    "png_width": "int64",
    "png_height": "int64",
}
TEXT_COLUMNS = tuple(c for c, t in COLUMNS.items() if t == "string")
LABEL_COLUMNS = ("density", "breast_birads", "finding_count")


def finding_id(study_uid: str, laterality: str, box: Mapping[str, object], view: str) -> str:
    """A release-side finding id: no database ids, no original UIDs."""
    text = json.dumps([study_uid, laterality, view, box], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(o: ImageOutcome, split: str) -> dict[str, object]:
    s = o.source
    findings = [dict(f, finding_id=finding_id(o.study_uid, s.laterality, f, s.view)) for f in s.findings]
    return {
        "image_id": o.sop_uid,
        "study_id": o.study_uid,
        "series_id": o.series_uid,
        "patient": o.patient,
        "age": s.age,
        "laterality": s.laterality,
        "view": s.view,
        "height": s.rows,
        "width": s.columns,
        "density": s.density,
        "breast_birads": s.assessment,
        "label_source": s.source,
        "findings": json.dumps(findings, sort_keys=True, separators=(",", ":")),
        "finding_count": len(findings),
        "revisions": json.dumps(list(s.revisions)),
        "split": split,
        "dicom_path": o.dicom_path,
        "dicom_sha256": o.dicom_sha256,
        "png_path": o.png_path,
        "png_sha256": o.png_sha256,
        "png_width": o.png_width,
        "png_height": o.png_height,
    }


def build_manifest(outcomes: Iterable[ImageOutcome], splits: Mapping[str, str]) -> pd.DataFrame:
    """Rows sorted by image id, typed columns in a fixed order."""
    rows = sorted((_row(o, splits[o.patient]) for o in outcomes), key=lambda r: str(r["image_id"]))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS).reset_index(drop=True)


def canonical_bytes(manifest: pd.DataFrame) -> bytes:
    """One JSON line per row, keys sorted, missing values as null: independent of the database and of pandas."""
    records = manifest[list(COLUMNS)].astype(object).where(manifest.notna(), None).to_dict("records")
    lines = (json.dumps({k: _plain(v) for k, v in r.items()}, sort_keys=True, ensure_ascii=False) for r in records)
    return "\n".join(lines).encode("utf-8")


def _plain(value: object) -> object:
    if value is None or isinstance(value, (str, bool)):
        return value
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number


def version_id(manifest: pd.DataFrame) -> str:
    """The sha256 of the canonical manifest: the same state gives the same id everywhere."""
    return hashlib.sha256(canonical_bytes(manifest)).hexdigest()


def to_parquet(manifest: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(manifest, preserve_index=False), buffer)
    return buffer.getvalue()


def from_parquet(data: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(data)).to_pandas().astype(COLUMNS)
