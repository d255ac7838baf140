"""The model_predictions asset: pending studies predicted once, failures counted with their reasons."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assets import inference
from emr_core.settings import Settings
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.annotation_ui.test_preannotations import store_predictions
from tests.support.feedback_rows import register_model_version
from tests.support.lsenv import LabelStudioEnv, settings_for
from tests.support.models import PlantedStudy, Registry
from tests.support.resources import dagster_resources


def _materialize(settings: Settings, registry: Registry, name: str, alias: str) -> dg.ExecuteInProcessResult:
    resources = dagster_resources(
        settings, mlflow_tracking_uri=registry.uri, detector_model_name=name, inference_model_alias=alias
    )
    return dg.materialize([inference.model_predictions], resources=resources, raise_on_error=False)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node("model_predictions")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_pending_studies_are_predicted_once(
    settings: Settings, registry: Registry, studies: dict[int, PlantedStudy]
) -> None:
    first = _metadata(_materialize(settings, registry, registry.detector, "champion"))
    assert (first["model_version"], first["pending"], first["done"], first["failed"]) == ("1", 2, 2, 0)
    again = _metadata(_materialize(settings, registry, registry.detector, "champion"))
    assert (again["pending"], again["done"]) == (0, 0)


def test_failures_are_counted_with_their_reason(
    settings: Settings, registry: Registry, studies: dict[int, PlantedStudy]
) -> None:
    found = _metadata(_materialize(settings, registry, registry.hostile, "short"))
    assert (found["done"], found["failed"]) == (0, 2)
    assert found["failure_reasons"] == {"malformed output: the model returned 3 rows for 4 images": 2}


def test_an_unknown_alias_fails_the_run_with_one_line(settings: Settings, registry: Registry) -> None:
    result = _materialize(settings, registry, registry.detector, "nope")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "no model" in message and "'nope'" in message


def test_the_asset_uses_the_inference_pool() -> None:
    assert inference.model_predictions.op.pool == "inference"


def _preannotate(env: LabelStudioEnv, settings: Settings, uri: str, alias: str) -> dg.ExecuteInProcessResult:
    resources = dagster_resources(
        settings, mlflow_tracking_uri=uri, detector_model_name="baseline", inference_model_alias=alias,
        label_studio_url=env.server.url, label_studio_token=env.admin.token,
    )  # fmt: skip
    return dg.materialize([inference.ai_preannotations], resources=resources, raise_on_error=False)


def test_the_champions_boxes_reach_ai_assisted_campaigns_once(
    label_studio: LabelStudioEnv, engine: Engine, session_factory: sessionmaker[Session], corpus: Path, tmp_path: Path
) -> None:
    settings = settings_for(label_studio, engine)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version, _ = register_model_version(uri, "baseline", alias="champion")
    campaign_id = provision_scheme(label_studio, session_factory, settings, corpus, "ai", "ai_assisted")
    store_predictions(session_factory, campaign_id, ("baseline", version))

    first = _preannotate(label_studio, settings, uri, "champion")
    assert first.success
    metadata = {k: v.value for k, v in first.asset_materializations_for_node("ai_preannotations")[0].metadata.items()}
    assert (metadata["model_version"], metadata["campaigns"], metadata["tasks_preannotated"]) == (version, 1, 16)
    again = _preannotate(label_studio, settings, uri, "champion")
    metadata = {k: v.value for k, v in again.asset_materializations_for_node("ai_preannotations")[0].metadata.items()}
    assert (metadata["tasks_preannotated"], metadata["tasks_already_preannotated"]) == (0, 16)

    unknown = _preannotate(label_studio, settings, uri, "challenger")
    (failure,) = [e for e in unknown.all_events if e.is_step_failure]
    assert "no model 'baseline' with alias 'challenger'" in failure.step_failure_data.error.message
