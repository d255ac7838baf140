"""`sgm model feedback NAME@VERSION`: a table of figures, logged to MLflow; one-line errors."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.settings import Settings
from tests.conftest import SgmCli
from tests.sgm_models.test_feedback_db import MODEL, _scenario
from tests.support.feedback_rows import register_model_version


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_feedback_prints_a_table_and_logs(
    sgm: SgmCli, settings: Settings, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{settings.root / 'mlflow.db'}"
    monkeypatch.setenv("SGM_MLFLOW_TRACKING_URI", uri)
    register_model_version(uri, MODEL[0], alias="champion")
    with session_scope(session_factory) as session:
        _scenario(session)
    result = sgm("model", "feedback", f"{MODEL[0]}@champion")
    assert result.exit_code == 0, result.output
    assert f"{MODEL[0]} version 1" in result.output
    assert "lesion sensitivity" in result.output and "0.500" in result.output
    assert "4 / 1 / 1 / 2" in result.output and "MLflow run " in result.output

    offline = sgm("model", "feedback", f"{MODEL[0]}@1", "--no-mlflow", "--hit", "iou", "--iou", "0.95")
    assert offline.exit_code == 0 and "MLflow run" not in offline.output


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-version"], "expected NAME@VERSION or NAME@ALIAS, not 'no-version'"),
        (["m@3", "--no-mlflow"], "no study predicted by m version 3 has final reads yet"),
        (["m@3", "--no-mlflow", "--hit", "iou", "--iou", "1.5"], "IoU threshold must be in (0, 1], not 1.5"),
    ],
)
def test_errors_are_one_line(sgm: SgmCli, args: list[str], message: str) -> None:
    result = sgm("model", "feedback", *args)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_help(sgm: SgmCli) -> None:
    result = sgm("model", "feedback", "--help")
    assert result.exit_code == 0 and "NAME@VERSION" in result.output
