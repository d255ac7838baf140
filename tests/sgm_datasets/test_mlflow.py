"""Versions in a real `mlflow server`: logged as datasets by the export, found by digest from a training run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emr_core.settings import Settings
from sgm_datasets.mlflow_log import EXPERIMENT, log_input, mlflow_client, mlflow_digest, runs_with_version, use_tracking
from sgm_datasets.site import tracking_uri
from tests.conftest import SgmCli
from tests.sgm_datasets.conftest import State
from tests.support.servers import mlflow_server


@pytest.fixture(scope="module")
def mlflow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as port:
        yield port


def test_tracking_uri_follows_the_server(mlflow_port: int, tmp_path: Path) -> None:
    assert tracking_uri(Settings(home=tmp_path, mlflow_port=mlflow_port)) == f"http://127.0.0.1:{mlflow_port}"
    from tests.support.servers import free_port

    fallback = tracking_uri(Settings(home=tmp_path, mlflow_port=free_port()))
    assert fallback == f"sqlite:///{tmp_path.resolve() / 'mlflow' / 'mlflow.db'}"


def test_export_logs_the_version_and_a_training_run_is_found_by_digest(
    sgm: SgmCli, state: State, mlflow_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("SGM_MLFLOW_PORT", str(mlflow_port))
    state.consolidate(state.studies()[:2])
    result = sgm("dataset", "export", "screening")
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{mlflow_port}" in result.output
    version = result.output.strip().splitlines()[-1].split("@")[1].split()[0]
    uri = f"http://127.0.0.1:{mlflow_port}"
    client = mlflow_client(uri)
    registered = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id], f"tags.`sgm.version` = '{version}'"
    )
    assert len(registered) == 1
    inputs = registered[0].inputs.dataset_inputs
    assert inputs[0].dataset.digest == mlflow_digest(version) and inputs[0].dataset.name == "screening"
    assert inputs[0].dataset.source and "screening" in inputs[0].dataset.source
    assert '"image_id"' in inputs[0].dataset.schema
    assert registered[0].data.params["train.images"].isdigit()

    from sgm_datasets.api import load_dataset

    manifest, root = load_dataset("screening", version[:10], settings=state.settings)
    assert (root / manifest["dicom_path"].iloc[0]).is_file()
    use_tracking(uri)
    mlflow.set_experiment("detector")
    with mlflow.start_run() as training:
        log_input(manifest, "screening", version, root.as_uri())
    found = runs_with_version(uri, version)
    assert training.info.run_id in found and registered[0].info.run_id in found
