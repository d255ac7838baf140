"""Exporting versions: contents, the same id for the same state, splits by patient, gates leave nothing."""

from __future__ import annotations

import json

import pytest

from sgm_datasets.errors import GateFailedError
from sgm_datasets.manifest import from_parquet
from sgm_datasets.store import LocalDatasetStore
from tests.sgm_datasets.conftest import State


def test_export_writes_a_complete_version_and_repeats_its_id(state: State, local_store: LocalDatasetStore) -> None:
    studies = state.studies()
    state.consolidate(studies[:3])
    first = state.export(local_store)
    assert first.created and len(first.version) == 64
    root = local_store.root / "screening" / first.version
    manifest = from_parquet((root / "manifest.parquet").read_bytes())
    assert len(manifest) == 3 * 4  # only consolidated exams: three four-view exams
    header = json.loads((root / "header.json").read_text())
    assert header["version"] == first.version and header["parent"] is None
    assert header["quality"]["dataset"]["success"] is True
    assert {f["path"] for f in header["files"]} >= {
        "labels/coco.json",
        "labels/finding_annotations.csv",
        "manifest.parquet",
    }
    assert any(p.startswith("sr/") for p in (f["path"] for f in header["files"]))
    assert all((root / f["path"]).is_file() for f in header["files"])
    assert manifest["finding_count"].sum() == 2  # the mass on CC and MLO
    second = state.export(local_store)
    assert second.version == first.version and not second.created
    assert local_store.versions("screening") == [first.version]


def test_failing_gate_leaves_no_version(state: State, local_store: LocalDatasetStore) -> None:
    state.consolidate(state.studies()[:2])
    with pytest.raises(GateFailedError, match="consolidated_findings_quality"):
        state.export(local_store, blocking_failures=["consolidated_findings_quality"])
    assert local_store.versions("screening") == []
    assert not (local_store.root / "screening").exists() or not any((local_store.root / "screening").iterdir())


def test_a_file_that_fails_deidentification_is_excluded_with_its_reason(
    state: State, local_store: LocalDatasetStore
) -> None:
    import pydicom
    from sqlalchemy import select

    from emr_core.db import session_scope
    from emr_core.models import Instance, Series

    studies = state.studies()
    state.consolidate(studies[:2])
    with session_scope(state.sessions) as session:
        stored = session.scalars(
            select(Instance.stored_path).join(Series).where(Series.study_id == studies[1].id).order_by(Instance.id)
        ).first()
    assert stored is not None
    path = state.settings.root / stored
    ds = pydicom.dcmread(path)
    ds.BurnedInAnnotation = "YES"  # text in the pixels: the de-identifier refuses it
    ds.save_as(path, enforce_file_format=True)
    result = state.export(local_store)
    assert len(result.manifest) == 7
    (excluded,) = result.header["excluded"]
    assert "BurnedInAnnotation is YES" in excluded["reason"] and excluded["patient"] in set(result.manifest["patient"])
    assert excluded["what"].endswith("image")


def test_hostile_names_are_refused(state: State, local_store: LocalDatasetStore) -> None:
    from sgm_datasets.errors import DatasetError

    state.consolidate(state.studies()[:1])
    for name in ("../escape", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(DatasetError, match="not a dataset name"):
            state.export(local_store, name=name)
    assert not (local_store.root.parent / "escape").exists()


def test_sr_is_a_tid_1500_report_with_each_box_as_a_closed_polyline(
    state: State, local_store: LocalDatasetStore
) -> None:
    import highdicom as hd
    import pydicom

    state.consolidate(state.studies()[:1])
    result = state.export(local_store)
    root = local_store.root / "screening" / result.version
    (sr_path,) = [f["path"] for f in result.header["files"] if f["path"].startswith("sr/")]
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(root / sr_path))
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = sr.content.get_planar_roi_measurement_groups()  # type: ignore[attr-defined]  # a MeasurementReport at run time
    assert len(groups) == 2  # the mass on CC and on MLO
    boxes = {tuple(map(tuple, g.roi.value)) for g in groups}
    assert ((5.0, 6.0), (30.0, 6.0), (30.0, 40.0), (5.0, 40.0), (5.0, 6.0)) in boxes
    referenced = {g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID for g in groups}
    assert referenced <= set(result.manifest["image_id"])
