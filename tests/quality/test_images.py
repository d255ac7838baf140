"""The images suite over a real ingest: clean corpus passes; each seeded defect fails its rule with examples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pydicom
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.models import utcnow
from emr_core.settings import Settings
from quality.frames import Scope, images_frame
from quality.gates import check_images
from quality.results import SuiteResult
from tests.quality.conftest import Emr

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"


def _by_study(emr: Emr) -> list[list[dict[str, str]]]:
    studies: dict[str, list[dict[str, str]]] = defaultdict(list)
    for image in emr.images():
        studies[image["study_uid"]].append(image)
    return [studies[uid] for uid in sorted(studies)]


def _failing(result: SuiteResult) -> dict[str, int]:
    return {r.description: r.failing_count for r in result.rules if r.failing_count}


def _example_uids(result: SuiteResult, description_start: str) -> set[str]:
    rule = next(r for r in result.rules if r.description.startswith(description_start))
    return {row["sop_instance_uid"] for row in rule.examples}


def test_clean_corpus_passes(emr: Emr) -> None:
    report = emr.ingest([emr.corpus / "dicom"])
    with session_scope(emr.sessions) as session:
        result = check_images(session, emr.settings.root)
    assert result.success, _failing(result)
    assert result.rows == report.stored == 36 and result.blocking


def _set_sop_class(uid: str, intent: str | None = None) -> Callable[[pydicom.Dataset], None]:
    def edit(ds: pydicom.Dataset) -> None:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.UID(uid)
        if intent:
            ds.PresentationIntentType = intent

    return edit


def _no_spacing(ds: pydicom.Dataset) -> None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)


def _burned_in(ds: pydicom.Dataset) -> None:
    ds.BurnedInAnnotation = "YES"


def _other_side_in_description(ds: pydicom.Dataset) -> None:
    # ImageLaterality keeps its value (the index takes it); the description now names the other breast.
    ds.SeriesDescription = ("R" if ds.ImageLaterality == "L" else "L") + " CC"


def _seed(emr: Emr) -> dict[str, object]:
    """Ingest the corpus with one defect per study; return what was seeded where."""
    studies = _by_study(emr)
    with_lat = next(i for i in studies[5] if "ImageLaterality" in pydicom.dcmread(emr.corpus / i["path"]))
    edits = {
        "ct": (studies[1][0], _set_sop_class(CT_IMAGE_STORAGE)),
        "processing": (studies[2][0], _set_sop_class(MG_FOR_PROCESSING, "FOR PROCESSING")),
        "spacing": (studies[3][0], _no_spacing),
        "burned": (studies[4][0], _burned_in),
        "side": (with_lat, _other_side_in_description),
    }
    edited = {name: emr.edited(image, edit, name) for name, (image, edit) in edits.items()}
    replaced = {Path(p.name) for p in edited.values()}
    dropped = studies[0][0]  # the first study becomes a three-view exam
    clean = [
        emr.corpus / i["path"]
        for s in studies[:7]
        for i in s
        if Path(Path(i["path"]).name) not in replaced and i is not dropped
    ]
    emr.ingest([*clean, *edited.values()])
    # The same SOP Instance UID again with other bytes: kept as a conflict, a duplicate for training.
    twin = emr.edited(studies[6][0], lambda ds: setattr(ds, "ContentTime", "235959"), "twin")
    assert emr.ingest([twin]).conflicts == 1
    uids = {name: image["sop_instance_uid"] for name, (image, _) in edits.items()}
    return {
        **uids,
        "three_view": {i["sop_instance_uid"] for i in studies[0][1:]},
        "twin": studies[6][0]["sop_instance_uid"],
    }


def test_seeded_defects_fail_with_counts_and_examples(emr: Emr) -> None:
    seeded = _seed(emr)
    with session_scope(emr.sessions) as session:
        result = check_images(session, emr.settings.root)
    assert not result.success and result.blocks_export
    assert _failing(result) == {
        "SOP class is a mammography image For Presentation": 2,
        "PresentationIntentType is FOR PRESENTATION": 1,
        "every header attribute stating a side agrees": 1,
        "pixel spacing is present": 1,
        "the exam holds all four views (LCC, LMLO, RCC, RMLO)": 3,
        "no SOP Instance UID twice (another copy with other bytes)": 2,
        "BurnedInAnnotation is not YES": 1,
    }
    assert _example_uids(result, "SOP class") == {seeded["ct"], seeded["processing"]}
    assert _example_uids(result, "PresentationIntentType") == {seeded["processing"]}
    assert _example_uids(result, "every header attribute stating a side") == {seeded["side"]}
    assert _example_uids(result, "pixel spacing is present") == {seeded["spacing"]}
    assert _example_uids(result, "the exam holds") == seeded["three_view"]
    assert _example_uids(result, "no SOP Instance UID twice") == {seeded["twin"]}
    assert _example_uids(result, "BurnedInAnnotation") == {seeded["burned"]}
    side = next(r for r in result.rules if r.description.startswith("every header attribute stating a side"))
    assert "SeriesDescription=" in side.examples[0]["header_lateralities"]
    twin_rows = next(r for r in result.rules if r.description.startswith("no SOP")).examples
    assert {row["copy"] for row in twin_rows} == {"stored", "conflict"}


def test_checks_judge_only_the_window_of_a_run(emr: Emr) -> None:
    _seed(emr)
    since = utcnow()
    later = [emr.corpus / i["path"] for s in _by_study(emr)[7:] for i in s]
    emr.ingest(later)
    with session_scope(emr.sessions) as session:
        run = check_images(session, emr.settings.root, Scope(since=since))
        everything = images_frame(session, emr.settings.root)
    assert run.success and run.rows == len(later) == 8
    assert run.report["since"] == since.isoformat(timespec="seconds")
    assert len(everything) > run.rows


def test_unreadable_stored_file_fails_header_rule(emr: Emr) -> None:
    emr.ingest([emr.corpus / "dicom"])
    with session_scope(emr.sessions) as session:
        frame = images_frame(session, emr.settings.root)
    victim = emr.settings.root / frame.loc[0, "stored_path"]
    victim.write_bytes(b"not dicom any more")
    with session_scope(emr.sessions) as session:
        result = check_images(session, emr.settings.root)
    assert _failing(result) == {"the stored file's header can be read": 1}


def test_a_run_that_received_nothing_passes(emr: Emr) -> None:
    with session_scope(emr.sessions) as session:
        result = check_images(session, emr.settings.root, Scope(since=utcnow()))
    assert result.success and result.rows == 0


def test_run_window_on_sqlite_and_mariadb(
    settings: Settings, session_factory: sessionmaker[Session], quality_corpus: Path
) -> None:
    # The window compares received_at (DATETIME(6) on MariaDB) with the run's start time.
    emr = Emr(settings.model_copy(update={"ingest_workers": 1}), session_factory, quality_corpus, settings.root)
    studies = _by_study(emr)
    emr.ingest([quality_corpus / i["path"] for i in studies[0]])
    since = utcnow()
    emr.ingest([quality_corpus / i["path"] for i in studies[1]])
    with session_scope(session_factory) as session:
        run = check_images(session, settings.root, Scope(since=since))
        before = check_images(session, settings.root, Scope(until=since))
    assert run.success and run.rows == 4
    assert before.success and before.rows == 4
