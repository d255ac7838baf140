"""Quality checks in Dagster: a failing blocking check stops the export; metadata shows counts and examples."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.utils import make_new_run_id
from sqlalchemy import select, update

from assets import ingest, linking
from assets.quality import (
    consolidated_findings_quality,
    dicom_instances_quality,
    failed_gates,
    linked_studies_quality,
)
from assets.resources import EmrDatabaseResource
from emr_core.db import session_scope
from emr_core.dicom.quarantine_resolution import dismiss, list_quarantined
from emr_core.models import LinkDecision, Study, utcnow
from orchestration.definitions import defs
from orchestration.quality_sensors import run_succeeded_quality_sensor
from tests.quality.conftest import Emr
from tests.quality.test_findings import _consolidate
from tests.quality.test_images import _burned_in, _by_study
from tests.support.resources import dagster_resources


@dg.asset(deps=["dicom_instances"])
def training_export() -> dg.MaterializeResult:
    """Stand-in for the export: runs only when the blocking checks upstream passed."""
    return dg.MaterializeResult(metadata={"exported": True})


def _resources(emr: Emr) -> dict[str, dg.ConfigurableResource]:
    resources = dagster_resources(emr.settings)
    return {name: resources[name] for name in ("emr_db", "dicom_storage")}


def _run(emr: Emr, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ingest.dicom_instances, training_export, dicom_instances_quality],
        resources=_resources(emr),
        instance=instance,
        raise_on_error=False,
    )


def _drop(files: list[Path], incoming: Path) -> None:
    incoming.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, incoming / f.name)


def _plan(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> None:
    """What a run launching the check records first (its verdict comes when the check finishes)."""
    planned = AssetCheckEvaluationPlanned(asset_key=key.asset_key, check_name=key.name)
    event = DagsterEvent(DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value, "later", event_specific_data=planned)
    instance.report_dagster_event(event, run_id=make_new_run_id())


def test_blocking_image_check_stops_the_export_and_judges_only_its_run(emr: Emr) -> None:
    studies = _by_study(emr)
    bad = emr.edited(studies[0][0], _burned_in, "burned")
    first = [bad, *(emr.corpus / i["path"] for i in studies[0][1:])]
    _drop(first, emr.settings.incoming_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        run = _run(emr, instance)
        evaluation = run.get_asset_check_evaluations()[0]
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert not run.asset_materializations_for_node("training_export"), "the export ran past a failing gate"
        metadata = evaluation.metadata
        assert metadata["failing: BurnedInAnnotation is not YES"].value == 1 and metadata["rows"].value == 4
        assert studies[0][0]["sop_instance_uid"] in metadata["examples"].value
        assert "| sop_instance_uid | study_uid | burned_in_annotation |" in metadata["examples"].value
        report = Path(metadata["report"].value)
        assert report.is_file() and "BurnedInAnnotation is not YES: examples (1 of 1)" in report.read_text()
        # An export launched on its own later still sees the failed gate (and the ones never evaluated).
        assert failed_gates(instance) == [
            "dicom_instances_quality",
            "linked_studies_quality",
            "consolidated_findings_quality",
        ]

        # The next run receives clean studies only: its gate judges them, not the earlier file.
        _drop([emr.corpus / i["path"] for s in studies[1:3] for i in s], emr.settings.incoming_dir)
        again = _run(emr, instance)
        check = again.get_asset_check_evaluations()[0]
        assert check.passed and check.metadata["rows"].value == 8
        assert again.asset_materializations_for_node("training_export")
        assert "dicom_instances_quality" not in failed_gates(instance)
        # A later run has started the check but not finished it: the verdict is still the last one given.
        _plan(instance, dicom_instances_quality.check_key)
        assert "dicom_instances_quality" not in failed_gates(instance)


def test_linking_check_reads_the_max_days_setting(emr: Emr, monkeypatch: pytest.MonkeyPatch) -> None:
    emr.ingest([emr.corpus / "dicom"])
    res = dg.materialize([linking.linked_studies, linked_studies_quality], resources=_resources(emr))
    assert res.get_asset_check_evaluations()[0].passed
    with session_scope(emr.sessions) as session:
        study = session.scalars(select(Study).order_by(Study.id)).first()
        assert study is not None
        session.execute(
            update(LinkDecision)
            .where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
            .values(status="review", decided_at=utcnow() - timedelta(days=3))
        )
    emr_db = _resources(emr)["emr_db"]
    passed = linked_studies_quality(dg.build_asset_check_context(), emr_db=emr_db)  # default: 7 days
    assert passed.passed and passed.metadata["studies_by_state"].value["review"] == 1
    monkeypatch.setenv("SGM_LINK_REVIEW_MAX_DAYS", "2")
    failed = linked_studies_quality(dg.build_asset_check_context(), emr_db=emr_db)
    assert (
        not failed.passed
        and failed.metadata["failing: no study unlinked or waiting for review longer than 2 days"].value == 1
    )
    assert study.study_uid in failed.metadata["examples"].value


def test_findings_check_metadata(emr: Emr) -> None:
    _consolidate(emr, {1: {"birads": "9"}})
    result = consolidated_findings_quality(dg.build_asset_check_context(), emr_db=_resources(emr)["emr_db"])
    assert not result.passed and result.metadata["failing_rows"].value == 1
    assert "| F1 |" in result.metadata["examples"].value and "| birads |" in result.metadata["examples"].value


def test_definitions_register_the_blocking_quality_checks() -> None:
    keys = {key.name: key for key in defs.resolve_asset_graph().asset_check_keys}
    for name in ("dicom_instances_quality", "linked_studies_quality", "consolidated_findings_quality"):
        assert name in keys
    specs = {
        s.name: s
        for c in (dicom_instances_quality, linked_studies_quality, consolidated_findings_quality)
        for s in c.check_specs
    }
    assert all(spec.blocking for spec in specs.values())


def test_quarantine_check_turns_green_once_the_file_is_resolved(emr: Emr) -> None:
    junk = emr.work / "junk.dcm"
    junk.write_bytes(b"\x00" * 300)
    assert emr.ingest([junk]).quarantined == 1
    emr_db = _resources(emr)["emr_db"]
    assert isinstance(emr_db, EmrDatabaseResource)
    assert not ingest.dicom_instances_quarantine(emr_db).passed
    with session_scope(emr.sessions) as session:
        (item,) = list_quarantined(session)
        dismiss(session, item.id, "empty file from a test sender", "qa")
    assert ingest.dicom_instances_quarantine(emr_db).passed


def test_gates_job_judges_the_latest_ingest_and_the_sensor_requests_it(emr: Emr) -> None:
    studies = _by_study(emr)
    _drop(
        [emr.edited(studies[0][0], _burned_in, "burned"), *(emr.corpus / i["path"] for i in studies[0][1:])],
        emr.settings.incoming_dir,
    )
    with dg.DagsterInstance.ephemeral() as instance:
        ingested = dg.materialize([ingest.dicom_instances], resources=_resources(emr), instance=instance)
        gates = defs.resolve_job_def("check_quality_gates_job").execute_in_process(
            resources=_resources(emr), instance=instance, raise_on_error=False
        )
        verdicts = {e.check_name: e.passed for e in gates.get_asset_check_evaluations()}
        assert verdicts == {
            "dicom_instances_quality": False,
            "linked_studies_quality": True,
            "consolidated_findings_quality": True,
        }
        context = dg.build_run_status_sensor_context(
            sensor_name="run_succeeded_quality_sensor",
            dagster_event=ingested.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=ingested.dagster_run,
        )
        request = run_succeeded_quality_sensor(context)
        assert isinstance(request, dg.RunRequest) and request.run_key == f"quality-{ingested.run_id}"
    ingest_checks = defs.resolve_job_def("ingest_dicom_job").asset_layer.asset_graph.asset_check_keys
    assert "dicom_instances_quality" not in {k.name for k in ingest_checks}, "a bad image must not hold up linking"
