"""Folder ingest end to end on SQLite and MariaDB: index, storage, quarantine, conflicts, --move."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.dicom.header import HeaderError, InstanceHeader
from emr_core.dicom.ingest import index_headers, ingest_file, ingest_paths
from emr_core.dicom.storage import hash_file, instance_path
from emr_core.enums import LedgerStage, QuarantineReason
from emr_core.models import (
    Instance,
    InstanceConflict,
    LedgerEntry,
    QuarantinedFile,
    Series,
    Study,
)
from emr_core.settings import Settings
from tests.support.dicom_factory import ct_dataset, mg_dataset, poison_files, write, write_mg

Factory = sessionmaker[Session]
MODELS = (Study, Series, Instance, LedgerEntry, QuarantinedFile, InstanceConflict)


def _counts(session_factory: Factory) -> dict[str, int]:
    with session_factory() as session:
        return {m.__name__: session.scalar(select(func.count()).select_from(m)) or 0 for m in MODELS}


def _exam(folder: Path, laterality_views=(("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO"))) -> list[Path]:
    """A four-view screening exam: one study, one series per image."""
    study = generate_uid()
    return [
        write_mg(
            folder / f"{side}{view}.dcm",
            StudyInstanceUID=study,
            ImageLaterality=side,
            ViewPosition=view,
            ViewCodeSequence=None,
            SeriesDescription=f"{side} {view}",
        )
        for side, view in laterality_views
    ]


def _bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    truncated = write_mg(folder / "cut.dcm").read_bytes()[:500]
    (folder / "cut.dcm").write_bytes(truncated)
    (folder / "notes.txt").write_text("not an image\n")
    return {
        "not_dicom": folder / "notes.txt",
        "truncated": folder / "cut.dcm",
        "missing_uid": write_mg(folder / "nouid.dcm", SeriesInstanceUID=None),
        **poison_files(folder / "poison"),
    }


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_ingest_indexes_stores_and_quarantines(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    exam = _exam(tmp_path / "in" / "exam")
    write(tmp_path / "in" / "ct.dcm", ct_dataset())
    bad = _bad_files(tmp_path / "in" / "junk")
    seen: list[int] = []
    report = ingest_paths(session_factory, settings, [tmp_path / "in"], progress=seen.append)

    assert (report.files_seen, report.stored, report.quarantined) == (12, 5, 7)
    assert (report.unchanged, report.conflicts, report.non_mammography, report.failed) == (
        0,
        0,
        1,
        0,
    )
    assert sum(seen) == 12 and len(report.new_study_uids) == 2
    assert _counts(session_factory) == {
        "Study": 2,
        "Series": 5,
        "Instance": 5,
        "LedgerEntry": 2,
        "QuarantinedFile": 7,
        "InstanceConflict": 0,
    }
    with session_factory() as session:
        rows = {i.laterality + i.view: i for i in session.scalars(select(Instance).where(Instance.is_mammogram))}
        assert sorted(rows) == ["LCC", "LMLO", "RCC", "RMLO"]
        assert {(i.laterality_source, i.view_source) for i in rows.values()} == {("ImageLaterality", "ViewPosition")}
        ct = session.scalars(select(Instance).where(Instance.modality == "CT")).one()
        assert not ct.is_mammogram
        ledger = session.scalars(select(LedgerEntry)).all()
        assert {e.stage for e in ledger} == {LedgerStage.RECEIVED.value}
        reasons = {q.reason: q for q in session.scalars(select(QuarantinedFile))}
    assert set(reasons) == {r.value for r in QuarantineReason} - {"unreadable"}
    for reason, source in bad.items():
        kept = settings.root / reasons[reason].quarantine_path
        assert kept.name == hash_file(source)[0] and kept.read_bytes() == source.read_bytes()
        assert json.loads(kept.with_name(kept.name + ".json").read_text())["reason"] == reason
    lcc = rows["LCC"]
    assert settings.root / lcc.stored_path == instance_path(settings.storage_dir, *_uids(exam[0]))
    assert (settings.root / lcc.stored_path).read_bytes() == exam[0].read_bytes()
    assert (lcc.sha256, lcc.size_bytes) == hash_file(exam[0])


def _uids(path: Path) -> tuple[str, str, str]:
    h = next(index_headers([path], workers=1))
    assert isinstance(h, InstanceHeader)
    return h.study_uid, h.series_uid, h.sop_instance_uid


def test_study_fields_survive_both_backends(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    path = write_mg(
        tmp_path / "a.dcm",
        PatientName="Nguyễn^Lan^Thị=阮^蘭",
        SpecificCharacterSet=["ISO_IR 192"],
        StudyDescription="x" * 64,
        Manufacturer="M" * 64,
    )
    ingest_file(session_factory, settings, path)
    with session_factory() as session:
        study = session.scalars(select(Study)).one()
        instance = session.scalars(select(Instance)).one()
    assert (study.dicom_patient_name, study.dicom_patient_id, study.dicom_issuer) == (
        "Nguyễn^Lan^Thị=阮^蘭",
        "P1",
        "HOSP",
    )
    assert (study.accession_number, str(study.study_date), str(study.dicom_birth_date)) == (
        "ACC1",
        "2024-03-15",
        "1970-01-02",
    )
    assert (study.dicom_sex, study.description, study.patient_id) == ("F", "x" * 64, None)
    assert (instance.pixel_spacing_row, instance.pixel_spacing_col, instance.rows) == (
        0.07,
        0.065,
        64,
    )
    assert (instance.photometric_interpretation, instance.manufacturer) == ("MONOCHROME1", "M" * 64)
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.1"


def test_reingest_changes_nothing(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    _exam(tmp_path / "in")
    _bad_files(tmp_path / "in" / "junk")
    first = ingest_paths(session_factory, settings, [tmp_path / "in"])
    counts, mtimes = _counts(session_factory), _mtimes(settings.root / "storage")
    quarantine = _mtimes(settings.quarantine_dir)
    again = ingest_paths(session_factory, settings, [tmp_path / "in"])
    assert (first.stored, again.stored, again.unchanged, again.quarantined) == (4, 0, 4, 7)
    assert again.new_study_uids == ()
    assert _counts(session_factory) == counts
    assert _mtimes(settings.root / "storage") == mtimes and _mtimes(settings.quarantine_dir) == quarantine


def test_small_batches_and_two_workers(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    for n in range(3):
        _exam(tmp_path / "in" / str(n))
    seen: list[int] = []
    small = settings.model_copy(update={"ingest_batch_size": 5, "ingest_workers": 2})
    report = ingest_paths(session_factory, small, [tmp_path / "in"], progress=seen.append)
    assert seen == [5, 5, 2] and report.stored == 12 and len(report.new_study_uids) == 3
    assert _counts(session_factory)["LedgerEntry"] == 3


def test_conflict_keeps_both_copies(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    ds = mg_dataset()
    original = write(tmp_path / "a" / "x.dcm", ds)
    ingest_paths(session_factory, settings, [original])
    stored = settings.root / _stored_paths(session_factory)[0]
    before = (stored.read_bytes(), stored.stat().st_mtime_ns)
    ds.SeriesDescription = "L CC corrected"
    changed = write(tmp_path / "b" / "x.dcm", ds)
    for _ in range(2):  # the second time must add nothing
        report = ingest_paths(session_factory, settings, [changed])
        assert (report.conflicts, report.stored) == (1, 0)
    assert (stored.read_bytes(), stored.stat().st_mtime_ns) == before
    with session_factory() as session:
        conflict = session.scalars(select(InstanceConflict)).one()
    assert (conflict.existing_sha256, conflict.new_sha256) == (
        hash_file(original)[0],
        hash_file(changed)[0],
    )
    assert (settings.root / conflict.kept_path).read_bytes() == changed.read_bytes()
    assert (settings.root / conflict.kept_path).is_relative_to(settings.conflicts_dir)


def test_same_uid_twice_in_one_run(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    ds = mg_dataset()
    one = write(tmp_path / "in" / "1.dcm", ds)
    ds.PatientID = "P2"
    two = write(tmp_path / "in" / "2.dcm", ds)
    copy = tmp_path / "in" / "3.dcm"
    copy.write_bytes(one.read_bytes())
    report = ingest_paths(session_factory, settings, [tmp_path / "in"])
    assert (report.stored, report.conflicts, report.unchanged) == (1, 1, 1)
    stored = settings.root / _stored_paths(session_factory)[0]
    assert stored.read_bytes() == one.read_bytes()
    assert hash_file(stored)[0] == _one_instance(session_factory).sha256
    assert two.exists()


def test_stored_file_without_row_is_recovered(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    path = write_mg(tmp_path / "a.dcm")
    target = instance_path(settings.storage_dir, *_uids(path))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"left by a crashed run")
    report = ingest_file(session_factory, settings, path)
    assert report.stored == 1 and target.read_bytes() == path.read_bytes()
    assert _one_instance(session_factory).sha256 == hash_file(path)[0]


def test_move_removes_only_safe_sources(
    session_factory: Factory, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incoming = tmp_path / "incoming"
    _exam(incoming)
    _bad_files(incoming / "junk")
    report = ingest_paths(session_factory, settings, [incoming], move=True)
    assert (report.stored, report.quarantined) == (4, 7)
    assert [p for p in incoming.rglob("*") if p.is_file()] == []
    # A file that cannot be stored (disk error) stays where it is and is reported as failed.
    failing = write_mg(incoming / "later.dcm")
    monkeypatch.setattr("emr_core.objectstore.local.store_file", _raise_oserror)
    one = settings.model_copy(update={"ingest_workers": 1})
    report = ingest_paths(session_factory, one, [incoming], move=True)
    assert (report.failed, report.stored) == (1, 0) and failing.exists()


def _raise_oserror(*_args: object, **_kwargs: object) -> None:
    raise OSError(28, "No space left on device")


def test_move_keeps_files_inside_the_data_folder(session_factory: Factory, settings: Settings, tmp_path: Path) -> None:
    ingest_paths(session_factory, settings, _exam(tmp_path / "in"))
    before = _mtimes(settings.storage_dir)
    report = ingest_paths(session_factory, settings, [settings.storage_dir], move=True)
    assert report.unchanged == 4 and _mtimes(settings.storage_dir) == before


def test_index_headers_in_order(tmp_path: Path) -> None:
    paths = _exam(tmp_path)
    junk = tmp_path / "junk.txt"
    junk.write_text("x")
    results = list(index_headers([*paths, junk, *paths], workers=2, chunksize=2))
    assert [type(r) for r in results] == [InstanceHeader] * 4 + [HeaderError] + [InstanceHeader] * 4
    assert [r.path for r in results] == [str(p) for p in [*paths, junk, *paths]]


def _stored_paths(session_factory: Factory) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(Instance.stored_path)))


def _one_instance(session_factory: Factory) -> Instance:
    with session_factory() as session:
        return session.scalars(select(Instance)).one()
