"""`sgm model`: help, listing versions with aliases and datasets, and one-line errors (no tracebacks)."""

from __future__ import annotations

import pytest

from sgm_datasets.mlflow_log import mlflow_client
from tests.conftest import SgmCli

MODEL = "cli-detector"


@pytest.fixture
def cli(sgm: SgmCli, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> SgmCli:
    monkeypatch.setenv("SGM_MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.setenv("SGM_DETECTOR_MODEL_NAME", MODEL)
    return sgm


def test_help_names_every_command(cli: SgmCli) -> None:
    result = cli("model", "--help")
    assert result.exit_code == 0 and all(c in result.output for c in ("train", "list", "promote"))
    for command in ("train", "list", "promote"):
        assert cli("model", command, "--help").exit_code == 0


def test_list_and_the_one_line_errors(cli: SgmCli, mlflow_uri: str) -> None:
    client = mlflow_client(mlflow_uri)
    if not client.search_registered_models(f"name = '{MODEL}'"):  # the first database backend of the run
        missing = cli("model", "list")
        assert missing.exit_code == 1 and f"no registered model named '{MODEL}'" in missing.output
        assert "Traceback" not in missing.output and len(missing.output.strip().splitlines()) == 1
        client.create_registered_model(MODEL)
        version = client.create_model_version(
            MODEL, "s3://sgm-test/model", tags={"sgm.dataset": "screening", "sgm.dataset_version": "ab" * 32}
        )
        client.set_registered_model_alias(MODEL, "champion", version.version)
        promote = cli("model", "promote")
        assert promote.exit_code == 1 and "has no version aliased 'challenger'" in promote.output
        assert len(promote.output.strip().splitlines()) == 1
        client.set_registered_model_alias(MODEL, "challenger", "1")
    listed = cli("model", "list")
    assert (
        listed.exit_code == 0 and f"{MODEL} v1 [challenger, champion] dataset screening@abababababab" in listed.output
    )
    no_dataset = cli("model", "promote", "--dataset", "absent")
    assert no_dataset.exit_code == 1 and "absent" in no_dataset.output and "Traceback" not in no_dataset.output
    assert len(no_dataset.output.strip().splitlines()) == 1
