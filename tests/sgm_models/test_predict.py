"""Inference on stored studies: in-process and remote agree, re-runs change nothing, bad models fail cleanly."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.models_ml import ModelPrediction, StudyInference
from emr_core.settings import Settings
from sgm_models.inference import InProcessBackend, RemoteBackend, RetryPolicy, UnknownModel, resolve_model
from sgm_models.predict import predict_studies
from sgm_models.predictions import pending_studies
from tests.support.models import LONG_SIDE, HostileServer, PlantedStudy, Registry


def _stored(factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with session_scope(factory) as session:
        inferences = session.execute(
            select(StudyInference.study_id, StudyInference.model_name, StudyInference.model_version,
                   StudyInference.status, StudyInference.input_sha256, StudyInference.exam_score)
            .order_by(StudyInference.study_id)
        ).all()  # fmt: skip
        predictions = session.execute(
            select(ModelPrediction.instance_id, ModelPrediction.input_sha256, ModelPrediction.boxes,
                   ModelPrediction.image_score).order_by(ModelPrediction.instance_id)
        ).all()  # fmt: skip
    return [*inferences, *predictions]


def _clear(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        session.query(ModelPrediction).delete()
        session.query(StudyInference).delete()


def test_in_process_and_remote_store_the_same_predictions(
    settings: Settings, session_factory, registry: Registry, served: str, studies: dict[int, PlantedStudy]
) -> None:
    model = resolve_model(registry.uri, registry.detector, "champion")
    assert (model.version, model.input_long_side) == ("1", LONG_SIDE)
    local = predict_studies(session_factory, settings.root, InProcessBackend(model), list(studies))
    assert (local.done, local.failed) == (2, 0), local.reasons
    in_process = _stored(session_factory)
    _clear(session_factory)
    remote = predict_studies(session_factory, settings.root, RemoteBackend(model, served, RetryPolicy()), list(studies))
    assert (remote.done, remote.failed) == (2, 0), remote.reasons
    assert _stored(session_factory) == in_process
    with session_scope(session_factory) as session:
        rows = session.scalars(select(StudyInference)).all()
        assert {(r.model_name, r.model_version, r.status) for r in rows} == {(registry.detector, "1", "done")}
        for prediction in session.scalars(select(ModelPrediction)):
            box = prediction.boxes[0]
            spot = studies[session.get(StudyInference, prediction.study_inference_id).study_id].spot
            # The box came back in DICOM pixels: it covers the planted square's centre.
            assert (
                box["x_min"] - 30 <= spot[0] <= box["x_max"] + 30 and box["y_min"] - 30 <= spot[1] <= box["y_max"] + 30
            )


def test_rerunning_the_same_version_changes_nothing(
    settings: Settings, session_factory, registry: Registry, studies: dict[int, PlantedStudy]
) -> None:
    backend = InProcessBackend(resolve_model(registry.uri, registry.detector, "champion"))
    predict_studies(session_factory, settings.root, backend, list(studies))
    with session_scope(session_factory) as session:
        before = [(r.id, r.updated_at, r.attempts) for r in session.scalars(select(StudyInference))]
        predictions_before = [r.id for r in session.scalars(select(ModelPrediction))]
        assert pending_studies(session, registry.detector, "1") == []
    again = predict_studies(session_factory, settings.root, backend, list(studies))
    assert (again.done, again.failed, again.unchanged) == (0, 0, 2)
    with session_scope(session_factory) as session:
        assert [(r.id, r.updated_at, r.attempts) for r in session.scalars(select(StudyInference))] == before
        assert [r.id for r in session.scalars(select(ModelPrediction))] == predictions_before


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("malformed", "malformed output: image "),
        ("short", "malformed output: the model returned 3 rows for 4 images"),
        ("raise", "the model raised RuntimeError: weights are corrupt"),
    ],
)
def test_a_bad_model_fails_the_study_with_the_reason_and_stores_nothing(
    settings: Settings, session_factory, registry: Registry, studies: dict[int, PlantedStudy], alias: str, reason: str
) -> None:
    backend = InProcessBackend(resolve_model(registry.uri, registry.hostile, alias))
    report = predict_studies(session_factory, settings.root, backend, list(studies))
    assert (report.done, report.failed) == (0, 2)
    with session_scope(session_factory) as session:
        rows = session.scalars(select(StudyInference)).all()
        assert all(r.status == "failed" and r.reason.startswith(reason) and r.attempts == 1 for r in rows)
        assert session.scalars(select(ModelPrediction)).all() == []
        # A failed study is tried again on the next run.
        assert sorted(pending_studies(session, registry.hostile, backend.model.version)) == sorted(studies)
    predict_studies(session_factory, settings.root, backend, list(studies))
    with session_scope(session_factory) as session:
        assert {r.attempts for r in session.scalars(select(StudyInference))} == {2}


@pytest.mark.parametrize(("behaviour", "problem"), [("hang", "no answer within 0.5 s"), ("drop", "dropped")])
def test_a_remote_server_that_hangs_or_drops_is_retried_then_fails_the_study(
    settings: Settings, session_factory, registry: Registry, studies: dict[int, PlantedStudy], behaviour, problem
) -> None:
    model = resolve_model(registry.uri, registry.detector, "champion")
    server = HostileServer(behaviour)
    with server.running() as url:
        backend = RemoteBackend(model, url, RetryPolicy(connect_timeout=1, read_timeout=0.5, backoff_seconds=0.05))
        report = predict_studies(session_factory, settings.root, backend, list(studies)[:1], workers=1)
    assert (report.done, report.failed) == (0, 1)
    (reason,) = report.reasons
    assert "failed 3 attempt(s)" in reason and problem in reason, reason
    assert server.connections == 3
    with session_scope(session_factory) as session:
        assert session.scalars(select(ModelPrediction)).all() == []
        assert [r.status for r in session.scalars(select(StudyInference))] == ["failed"]


@pytest.mark.parametrize(("name", "alias"), [(None, "nope"), ("no-such-model", "champion"), (None, "99")])
def test_an_unknown_model_or_alias_is_a_one_line_error(registry: Registry, name: str | None, alias: str) -> None:
    with pytest.raises(UnknownModel) as error:
        resolve_model(registry.uri, name or registry.detector, alias)
    assert "\n" not in str(error.value) and repr(alias) in str(error.value)
