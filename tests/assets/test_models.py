"""The training assets in a real Dagster run: the baseline is trained on a dataset version, logged and
registered in a real MLflow server, then the champion step compares (here: nothing to compare yet)."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.models import baseline_detector, champion_detector
from sgm_datasets.mlflow_log import mlflow_client
from tests.support.model_dataset import ModelDataset
from tests.support.resources import dagster_resources

MODEL = "asset-detector"


def test_the_baseline_asset_trains_registers_and_the_champion_step_follows(
    model_dataset: ModelDataset, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGM_DETECTOR_MODEL_NAME", MODEL)
    resources = dagster_resources(model_dataset.settings, mlflow_tracking_uri=mlflow_uri)
    config = {"ops": {"baseline_detector": {"config": {"iterations": 60, "seed": 2}}}}
    result = dg.materialize(
        [baseline_detector, champion_detector],
        resources={k: resources[k] for k in ("emr_db", "mlflow_tracking")},
        run_config=config,
    )
    assert result.success
    trained = result.asset_materializations_for_node("baseline_detector")[0].metadata
    assert trained["model"].value == MODEL and trained["model_version"].value == "1"
    assert trained["dataset_version"].value == model_dataset.version
    assert trained["test_froc_score"].value > trained["trivial_test_froc_score"].value
    champion = result.asset_materializations_for_node("champion_detector")[0].metadata
    assert champion["champion"].value == "1" and champion["moved"].value is False
    run = mlflow_client(mlflow_uri).get_run(trained["mlflow_run"].value)
    assert run.data.params["iterations"] == "60"


def test_an_unknown_dataset_fails_the_run_with_one_line(
    model_dataset: ModelDataset, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGM_DETECTOR_MODEL_NAME", MODEL)
    resources = dagster_resources(model_dataset.settings, mlflow_tracking_uri=mlflow_uri)
    result = dg.materialize(
        [baseline_detector],
        resources={k: resources[k] for k in ("emr_db", "mlflow_tracking")},
        run_config={"ops": {"baseline_detector": {"config": {"dataset": "nothing-here"}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "nothing-here" in message and message.count("\n") <= 1
