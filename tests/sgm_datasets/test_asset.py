"""The training_dataset asset: gated by the quality checks, writes a version, logs it in MLflow."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.models_annotation import ConsolidatedFinding
from orchestration.definitions import defs
from sgm_datasets.mlflow_log import runs_with_version
from sgm_datasets.store import LocalDatasetStore
from tests.sgm_datasets.conftest import State
from tests.support.resources import dagster_resources


def _resources(state: State, tmp_path: Path) -> dict[str, dg.ConfigurableResource]:
    resources = dagster_resources(state.settings, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return {name: resources[name] for name in ("emr_db", "dicom_storage", "mlflow_tracking")}


def _gates(state: State, tmp_path: Path, instance: dg.DagsterInstance) -> dict[str, bool]:
    run = defs.resolve_job_def("check_quality_gates_job").execute_in_process(
        resources=_resources(state, tmp_path), instance=instance, raise_on_error=False
    )
    return {e.check_name: e.passed for e in run.get_asset_check_evaluations()}


def _export(state: State, tmp_path: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("export_training_dataset_job").execute_in_process(
        resources=_resources(state, tmp_path), instance=instance, raise_on_error=False
    )


def test_export_runs_only_after_the_gates_passed(state: State, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGM_HOME", str(state.settings.root))
    store = LocalDatasetStore(state.settings.root / "datasets")
    state.consolidate(state.studies()[:2])
    with dg.DagsterInstance.ephemeral() as instance:
        refused = _export(state, tmp_path, instance)  # no gate has run yet
        assert not refused.success and store.versions("screening") == []
        assert all(_gates(state, tmp_path, instance).values())
        run = _export(state, tmp_path, instance)
        assert run.success
        (materialization,) = run.asset_materializations_for_node("training_dataset")
        version = materialization.metadata["version"].value
        assert store.versions("screening") == [version]
        assert materialization.metadata["train_images"].value + materialization.metadata["test_images"].value >= 0
        assert runs_with_version(f"sqlite:///{tmp_path / 'mlflow.db'}", str(version))

        with session_scope(state.sessions) as session:  # a box outside its image: the findings gate fails
            finding = session.scalars(select(ConsolidatedFinding)).first()
            assert finding is not None
            finding.cc_xmax = 10_000
        assert _gates(state, tmp_path, instance)["consolidated_findings_quality"] is False
        state.consolidate(state.studies()[2:3], with_finding=False)  # new data that would make a new version
        blocked = _export(state, tmp_path, instance)
        assert not blocked.success and store.versions("screening") == [version]
        failure = blocked.get_step_failure_events()[0].step_failure_data.error
        assert failure is not None and "consolidated_findings_quality" in failure.message


def test_the_asset_sits_downstream_of_the_gated_asset() -> None:
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("training_dataset")
    assert {dg.AssetKey("consolidated_findings"), dg.AssetKey("linked_studies")} <= graph.get(key).parent_keys
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == dg.AssetKey("consolidated_findings")}
    assert "consolidated_findings_quality" in checks
