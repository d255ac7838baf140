"""Upsert one batch of processed files into the index: studies, series, instances, conflicts."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.dicom.header import InstanceHeader
from emr_core.dicom.quarantine import Quarantined
from emr_core.dicom.storage import safe_component, store_file
from emr_core.enums import LedgerStage
from emr_core.models import (
    Base,
    Instance,
    InstanceConflict,
    LedgerEntry,
    QuarantinedFile,
    Series,
    Study,
)
from emr_core.objectstore import ObjectStore, StoredObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileResult:
    """What a worker did with one file: stored (with its header), quarantined, or failed."""

    source: str
    header: InstanceHeader | None = None
    stored: StoredObject | None = None
    quarantined: Quarantined | None = None
    error: str = ""


@dataclass
class BatchOutcome:
    """Counts by outcome, the studies this batch created, and sources now safe to remove."""

    counts: Counter[str] = field(default_factory=Counter)
    new_study_uids: list[str] = field(default_factory=list)
    safe_sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Layout:
    root: Path
    conflicts_dir: Path
    store: ObjectStore


def apply_batch(
    session: Session, results: Sequence[FileResult], root: Path, conflicts_dir: Path, store: ObjectStore
) -> BatchOutcome:
    """Index a batch in the caller's transaction (never commits); safe to run again."""
    outcome = BatchOutcome()
    layout = _Layout(root, conflicts_dir, store)
    stored = [r for r in results if r.header is not None and r.stored is not None]
    new = _classify(session, stored, layout, outcome)
    _add_instances(session, new, layout, outcome)
    _add_quarantine_rows(session, [r.quarantined for r in results if r.quarantined], layout)
    for result in results:
        if result.quarantined:
            outcome.counts["quarantined"] += 1
            outcome.safe_sources.append(result.source)
        elif result.error:
            outcome.counts["failed"] += 1
    return outcome


def _classify(session: Session, results: list[FileResult], layout: _Layout, outcome: BatchOutcome) -> list[FileResult]:
    """Split stored files into new instances, unchanged duplicates and conflicts."""
    sops = [r.header.sop_instance_uid for r in results if r.header is not None]
    known = dict(
        session.execute(
            select(Instance.sop_instance_uid, Instance.sha256).where(Instance.sop_instance_uid.in_(sops))
        ).all()
    )
    new: list[FileResult] = []
    for result in results:
        header, stored = result.header, result.stored
        assert header is not None and stored is not None
        existing_sha = known.get(header.sop_instance_uid)
        if existing_sha is None:
            _recover_orphan(result, layout.store)
            known[header.sop_instance_uid] = stored.sha256
            new.append(result)
        elif existing_sha == stored.sha256:
            outcome.counts["unchanged"] += 1
        else:
            _record_conflict(session, result, existing_sha, layout)
            outcome.counts["conflicts"] += 1
        if not header.is_mammogram:
            outcome.counts["non_mammography"] += 1
        outcome.safe_sources.append(result.source)
    return new


def _recover_orphan(result: FileResult, store: ObjectStore) -> None:
    """A stored object without an index row (an interrupted run): make it hold this source."""
    stored = result.stored
    assert stored is not None
    if stored.created or store.sha256(stored.key) == stored.sha256:
        return
    log.warning("replacing unindexed stored object %s with %s", stored.location, result.source)
    store.put_file(stored.key, result.source, overwrite=True)


def _record_conflict(session: Session, result: FileResult, existing_sha: str, layout: _Layout) -> None:
    """Keep the new copy beside the original under conflicts/ and record both hashes."""
    header, stored = result.header, result.stored
    assert header is not None and stored is not None
    sop = header.sop_instance_uid
    target = layout.conflicts_dir / safe_component(sop) / f"{stored.sha256}.dcm"
    store_file(result.source, target)
    log.warning("conflict: %s has other bytes than stored instance %s; kept %s", result.source, sop, target)
    seen = session.scalar(
        select(InstanceConflict.id).where(
            InstanceConflict.sop_instance_uid == sop, InstanceConflict.new_sha256 == stored.sha256
        )
    )
    if seen is None:
        session.add(
            _row(
                InstanceConflict,
                sop_instance_uid=sop,
                existing_sha256=existing_sha,
                new_sha256=stored.sha256,
                kept_path=_relative(target, layout.root),
                source_path=result.source,
            )
        )


def _add_instances(session: Session, results: list[FileResult], layout: _Layout, outcome: BatchOutcome) -> None:
    """Insert new instances, creating their series and studies (and a ledger row per new study)."""
    headers = [r.header for r in results if r.header is not None]
    studies, created = _ensure_studies(session, headers)
    series = _ensure_series(session, headers, studies)
    for result in results:
        header, stored = result.header, result.stored
        assert header is not None and stored is not None
        session.add(_instance_row(header, stored, series[header.series_uid].id, layout))
        outcome.counts["stored"] += 1
    for study in created:
        session.add(LedgerEntry(study_id=study.id, stage=LedgerStage.RECEIVED.value))
        outcome.new_study_uids.append(study.study_uid)
    session.flush()


def _ensure_studies(session: Session, headers: list[InstanceHeader]) -> tuple[dict[str, Study], list[Study]]:
    uids = {h.study_uid for h in headers}
    found = {s.study_uid: s for s in session.scalars(select(Study).where(Study.study_uid.in_(uids)))}
    created = []
    for header in headers:
        if header.study_uid not in found:
            study = _row(Study, **_study_values(header))
            found[header.study_uid] = study
            created.append(study)
            session.add(study)
    session.flush()
    return found, created


def _ensure_series(session: Session, headers: list[InstanceHeader], studies: dict[str, Study]) -> dict[str, Series]:
    uids = {h.series_uid for h in headers}
    found = {s.series_uid: s for s in session.scalars(select(Series).where(Series.series_uid.in_(uids)))}
    for header in headers:
        if header.series_uid not in found:
            found[header.series_uid] = _row(
                Series,
                series_uid=header.series_uid,
                study_id=studies[header.study_uid].id,
                modality=header.modality,
                series_number=header.series_number,
                description=header.series_description,
            )
            session.add(found[header.series_uid])
    session.flush()
    return found


def _study_values(header: InstanceHeader) -> dict[str, Any]:
    return {
        "study_uid": header.study_uid,
        "accession_number": header.accession_number,
        "study_date": header.study_date,
        "description": header.study_description,
        "dicom_patient_id": header.patient_id,
        "dicom_issuer": header.issuer_of_patient_id,
        "dicom_patient_name": header.patient_name,
        "dicom_birth_date": header.patient_birth_date,
        "dicom_sex": header.patient_sex,
    }


def _instance_row(header: InstanceHeader, stored: StoredObject, series_id: int, layout: _Layout) -> Instance:
    return _row(
        Instance,
        sop_instance_uid=header.sop_instance_uid,
        series_id=series_id,
        sop_class_uid=header.sop_class_uid,
        modality=header.modality,
        is_mammogram=header.is_mammogram,
        laterality=header.laterality,
        laterality_source=header.laterality_source,
        view=header.view,
        view_source=header.view_source,
        photometric_interpretation=header.photometric_interpretation,
        rows=header.rows,
        columns=header.columns,
        pixel_spacing_row=header.pixel_spacing_row,
        pixel_spacing_col=header.pixel_spacing_col,
        manufacturer=header.manufacturer,
        transfer_syntax_uid=header.transfer_syntax_uid,
        stored_path=stored.location,
        size_bytes=stored.size,
        sha256=stored.sha256,
    )


def _add_quarantine_rows(session: Session, items: list[Quarantined | None], layout: _Layout) -> None:
    """One QuarantinedFile row per distinct content; the same bytes again add nothing."""
    fresh: dict[str, Quarantined] = {}
    for item in items:
        if item is not None:
            fresh.setdefault(item.sha256, item)  # the first source seen is the one recorded
    if not fresh:
        return
    known = set(session.scalars(select(QuarantinedFile.sha256).where(QuarantinedFile.sha256.in_(fresh))))
    for sha, item in fresh.items():
        if sha not in known:
            session.add(
                _row(
                    QuarantinedFile,
                    sha256=sha,
                    reason=item.reason.value,
                    detail=item.detail,
                    source_path=item.source_path,
                    size_bytes=item.size,
                    quarantine_path=_relative(Path(item.path), layout.root),
                )
            )
    session.flush()


def _relative(path: Path, root: Path) -> str:
    """A path relative to the data folder (which may then move); `root / path` resolves it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _row(model: type[Base], **values: Any) -> Any:
    """Build a row, clipping text to its column length: one odd header must not fail a batch."""
    columns = model.__table__.c
    for name, value in values.items():
        length = getattr(columns[name].type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            values[name] = value[:length]
    return model(**values)
