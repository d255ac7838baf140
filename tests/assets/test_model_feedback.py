"""The model_feedback asset: the champion's figures land in MLflow and in the materialisation's metadata."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from assets.model_feedback import model_feedback
from emr_core.db import session_scope
from emr_core.settings import Settings
from orchestration.definitions import defs
from tests.sgm_models.test_feedback_db import MODEL, _scenario
from tests.support.feedback_rows import register_model_version
from tests.support.resources import dagster_resources


def _materialize(settings: Settings, uri: str, version: str) -> dg.ExecuteInProcessResult:
    resources = dagster_resources(settings, mlflow_tracking_uri=uri)
    return dg.materialize(
        [model_feedback],
        resources={"emr_db": resources["emr_db"], "mlflow_tracking": resources["mlflow_tracking"]},
        run_config={"ops": {"model_feedback": {"config": {"model_name": MODEL[0], "version": version}}}},
        raise_on_error=False,
    )


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_asset_reports_the_champion(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    uri = f"sqlite:///{settings.root / 'mlflow.db'}"
    register_model_version(uri, MODEL[0], alias="champion")
    with session_scope(session_factory) as session:
        _scenario(session)
    result = _materialize(settings, uri, "champion")
    assert result.success
    metadata = result.asset_materializations_for_node("model_feedback")[0].metadata
    assert metadata["model_version"].value == MODEL[1]
    assert metadata["sensitivity"].value == 0.5 and metadata["boxes_edited"].value == 1.0
    froc = metadata["froc_curve"]
    assert isinstance(froc, dg.MarkdownMetadataValue) and "data:image/png;base64,iVBORw0KGgo" in froc.value
    assert metadata["mlflow_run"].value
    assert list((settings.root / "artifacts").glob("*/artifacts/froc.png"))  # beside the store, not in the cwd

    unknown = _materialize(settings, uri, "challenger")
    assert not unknown.success
    failure = unknown.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert (
        failure is not None
        and failure.description == f"model {MODEL[0]} has no alias 'challenger' in the MLflow registry"
    )


def test_asset_is_registered() -> None:
    assert defs.resolve_asset_graph().has(dg.AssetKey("model_feedback"))
