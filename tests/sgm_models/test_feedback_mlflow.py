"""Feedback logged to a real MLflow server: metrics on the run and the version's logged model, artifacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from sgm_datasets.mlflow_log import mlflow_client
from sgm_models.feedback_db import FeedbackError, model_feedback
from sgm_models.feedback_mlflow import log_feedback, run_name
from tests.sgm_models.test_feedback_db import MODEL, _scenario
from tests.support.feedback_rows import register_model_version as register
from tests.support.servers import mlflow_server


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A loaded 2-core machine can take minutes to migrate MLflow's database on start.
    with mlflow_server(tmp_path_factory.mktemp("mlflow"), seconds=420) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_feedback_lands_on_the_model_version(tracking_uri: str, session_factory: sessionmaker[Session]) -> None:

    version, model_id = register(tracking_uri, MODEL[0])
    assert version == MODEL[1]
    with session_scope(session_factory) as session:
        _scenario(session)
    with session_scope(session_factory) as session:
        feedback = model_feedback(session, *MODEL)
    logged = log_feedback(tracking_uri, feedback)
    assert logged.model_id == model_id and set(logged.artifacts) == {"feedback.json", "froc.png"}

    client = mlflow_client(tracking_uri)
    run = client.get_run(logged.run_id)
    assert run.info.run_name == run_name(*MODEL)
    assert run.data.metrics["sensitivity"] == 0.5 and run.data.metrics["boxes_accepted"] == 1.0
    assert [d.dataset.digest for d in run.inputs.dataset_inputs] == [logged.dataset_digest]
    on_model = {m.key: m for m in client.get_logged_model(model_id).metrics or []}
    assert on_model["exam_auc"].value == 1.0 and on_model["fp_per_image"].value == 0.25
    assert on_model["froc_sensitivity_at_1_fp"].dataset_digest == logged.dataset_digest
    assert client.get_model_version(*MODEL).tags["feedback_run_id"] == logged.run_id

    folder = Path(client.download_artifacts(logged.run_id, ""))
    assert (folder / "froc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures = json.loads((folder / "feedback.json").read_text())
    assert figures["review"]["edited"] == 1 and figures["detection"]["froc"]["0.25"] == 0.5


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_unregistered_version_is_a_one_line_error(tracking_uri: str, session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _scenario(session)
    with session_scope(session_factory) as session:
        feedback = model_feedback(session, *MODEL)
    missing = type(feedback)("not-registered", "7", feedback.detection, feedback.review, feedback.exams)
    with pytest.raises(FeedbackError, match="model not-registered has no version 7"):
        log_feedback(tracking_uri, missing)
