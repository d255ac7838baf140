"""Write a dataset version: select, de-identify and render, split, label, validate, then publish or leave nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from emr_core.deid import Deidentifier
from emr_core.deid.deidentifier import LIBRARY
from emr_core.deid.profile import METHOD_CODES
from emr_core.deid.table import TABLE_EDITION
from quality.gates import dataset_report
from sgm_datasets.errors import GateFailedError
from sgm_datasets.images import ImageOutcome, export_image, init_worker, run_in_worker
from sgm_datasets.labels import write_coco, write_vindr
from sgm_datasets.manifest import LABEL_COLUMNS, TEXT_COLUMNS, build_manifest, from_parquet, to_parquet, version_id
from sgm_datasets.selection import SourceImage, select_images
from sgm_datasets.splits import SPLITS, assign_splits
from sgm_datasets.sr import write_srs
from sgm_datasets.store import HEADER, DatasetStore, check_name

MANIFEST = "manifest.parquet"
QUALITY = "quality.html"
FORMAT = 1
SELECTION_RULES = {
    "exams": "every breast side agreed by two blind readers or adjudicated",
    "images": "the CC and MLO image of each side",
    "splits": "by patient; stratified by whether the patient has findings; a patient keeps the split of the parent",
}


@dataclass(frozen=True)
class ExportRequest:
    name: str
    secret: bytes
    data_root: Path
    user: str = ""
    workers: int = 1
    png_long_side: int = 1024
    blocking_failures: Sequence[str] = ()
    progress: Callable[[int, int], None] | None = None


@dataclass
class ExportResult:
    name: str
    version: str
    created: bool
    manifest: pd.DataFrame
    header: dict[str, Any] = field(default_factory=dict)


def code_version() -> str:
    try:
        return package_version("sgm")
    except PackageNotFoundError:
        return "unknown"


def _outcomes(request: ExportRequest, images: list[SourceImage], out: Path) -> Iterator[ImageOutcome]:
    done = 0
    if request.workers <= 1 or len(images) < 8:
        deid = Deidentifier(request.secret)
        results: Iterator[ImageOutcome] = (
            export_image(deid, request.data_root, out, i, request.png_long_side) for i in images
        )
        pool = None
    else:
        pool = ProcessPoolExecutor(
            request.workers,
            initializer=init_worker,
            initargs=(request.secret, str(request.data_root), str(out), request.png_long_side),
        )
        results = pool.map(run_in_worker, images, chunksize=4)
    try:
        for outcome in results:
            done += 1
            if request.progress:
                request.progress(done, len(images))
            yield outcome
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _parent(store: DatasetStore, name: str) -> tuple[str | None, dict[str, str]]:
    """The latest version of the dataset and its patient -> split assignment."""
    latest: tuple[str, str] | None = None
    for version in store.versions(name):
        created = json.loads(store.read(name, version, HEADER)).get("created_at", "")
        if latest is None or created > latest[0]:
            latest = (created, version)
    if latest is None:
        return None, {}
    manifest = from_parquet(store.read(name, latest[1], MANIFEST))
    return latest[1], dict(zip(manifest["patient"], manifest["split"], strict=True))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_list(manifest: pd.DataFrame, out: Path, extra: Sequence[str]) -> list[dict[str, Any]]:
    files = [
        {"path": p, "sha256": h, "size": (out / p).stat().st_size}
        for kind in ("dicom", "png")
        for p, h in zip(manifest[f"{kind}_path"], manifest[f"{kind}_sha256"], strict=True)
    ]
    files += [{"path": p, "sha256": _sha256(out / p), "size": (out / p).stat().st_size} for p in extra]
    return sorted(files, key=lambda f: f["path"])


def _counts(manifest: pd.DataFrame) -> dict[str, dict[str, int]]:
    by_split = {s: manifest[manifest["split"] == s] for s in SPLITS}
    return {
        s: {
            "images": len(m),
            "studies": int(m["study_id"].nunique()),
            "patients": int(m["patient"].nunique()),
            "findings": int(m["finding_count"].sum()),
        }
        for s, m in by_split.items()
    }


def _excluded(
    selection_excluded: list[tuple[str, str, str]], failed: list[ImageOutcome], deid: Deidentifier
) -> list[dict[str, str]]:
    """What was left out and why, named by pseudonym only (the header is released with the data)."""

    def who(issuer: str, patient_id: str) -> str:
        return deid.key_for(issuer, patient_id).pseudonym if patient_id else "(no patient id)"

    rows = [{"patient": who(i, p), "what": "exam", "reason": r} for i, p, r in selection_excluded]
    rows += [
        {
            "patient": who(o.source.issuer, o.source.patient_id),
            "what": f"{o.source.laterality}{o.source.view} image",
            "reason": o.reason,
        }
        for o in failed
    ]
    return sorted(rows, key=lambda r: (r["patient"], r["what"], r["reason"]))


def _strata(outcomes: list[ImageOutcome]) -> dict[str, str]:
    with_findings = {o.patient for o in outcomes if o.source.findings}
    return {o.patient: "findings" if o.patient in with_findings else "no findings" for o in outcomes}


def _validate(manifest: pd.DataFrame, phi: set[str], version: str, out: Path) -> dict[str, Any]:
    """The blocking dataset suite (no patient in two splits, zero PHI); its report goes into the version."""
    with tempfile.TemporaryDirectory() as tmp:
        result, path = dataset_report(manifest.copy(), phi, TEXT_COLUMNS, LABEL_COLUMNS, version, Path(tmp))
        shutil.move(path, out / QUALITY)
    summary = {
        "suite": result.suite,
        "success": result.success,
        "rows": result.rows,
        "failed_rules": {r.description: r.failing_count for r in result.failed_rules},
        "class_balance": result.report.get("class_balance", {}),
    }
    if not result.success:
        raise GateFailedError(f"dataset checks failed: {', '.join(summary['failed_rules']) or 'see report'}")
    return summary


def _header(
    request: ExportRequest,
    version: str,
    parent: str | None,
    manifest: pd.DataFrame,
    excluded: list[dict[str, str]],
    quality: dict[str, Any],
    files: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": request.name,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "created_by": request.user,
        "parent": parent,
        "code_version": code_version(),
        "deidentification": {
            "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "options": [{"code": c, "meaning": m} for c, m in METHOD_CODES],
            "method": LIBRARY,
            "table_edition": TABLE_EDITION,
        },
        "quality": {"gates": {"blocking_failures": list(request.blocking_failures)}, "dataset": quality},
        "selection_rules": {**SELECTION_RULES, "png_long_side": request.png_long_side},
        "excluded": excluded,
        "counts": _counts(manifest),
        "files": files,
    }


def export_version(session: Session, store: DatasetStore, request: ExportRequest) -> ExportResult:
    """Publish a new immutable version, or return the existing one when the state is unchanged."""
    check_name(request.name)
    if request.blocking_failures:
        raise GateFailedError(
            f"blocking quality gates failed: {', '.join(request.blocking_failures)}; no version written"
        )
    selection = select_images(session)
    if not selection.images:
        raise GateFailedError("nothing to export: no exam has a final read on every side")
    staged = store.staging(request.name)
    try:
        return _export_staged(store, request, selection.images, selection.excluded, selection.phi, staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _export_staged(
    store: DatasetStore,
    request: ExportRequest,
    images: list[SourceImage],
    excluded_exams: list[tuple[str, str, str]],
    phi: set[str],
    staged: Path,
) -> ExportResult:
    outcomes = list(_outcomes(request, images, staged))
    ok = [o for o in outcomes if not o.reason]
    excluded = _excluded(excluded_exams, [o for o in outcomes if o.reason], Deidentifier(request.secret))
    if not ok:
        raise GateFailedError("nothing to export: every selected image was excluded")
    parent, inherited = _parent(store, request.name)
    manifest = build_manifest(ok, assign_splits(_strata(ok), inherited))
    version = version_id(manifest)
    if version in store.versions(request.name):
        shutil.rmtree(staged, ignore_errors=True)
        header = json.loads(store.read(request.name, version, HEADER))
        return ExportResult(request.name, version, False, manifest, header)
    quality = _validate(manifest, phi, version, staged)
    (staged / MANIFEST).write_bytes(to_parquet(manifest))
    labels = [*write_vindr(manifest, staged), *write_coco(manifest, staged), *write_srs(manifest, staged)]
    files = _file_list(manifest, staged, [MANIFEST, QUALITY, *labels])
    header = _header(request, version, parent, manifest, excluded, quality, files)
    partial = staged / f".{HEADER}.part"
    partial.write_text(json.dumps(header, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, staged / HEADER)
    store.publish(request.name, version, staged)
    return ExportResult(request.name, version, True, manifest, header)
