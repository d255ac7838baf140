"""Training on a real dataset version against a real MLflow server: beats the trivial baseline, logs the run
with its dataset input, registers the version with the dataset digest, sets aliases; the pyfunc round-trips."""

from __future__ import annotations

import json

import mlflow
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detection.contract import input_frame, parse_output
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from sgm_datasets.api import load_dataset
from sgm_datasets.mlflow_log import mlflow_client, mlflow_digest, use_tracking
from sgm_models.data import split_images
from sgm_models.errors import NoHeldOutLesions, UnknownAlias, UnknownModel
from sgm_models.registry import CHALLENGER, CHAMPION, ModelRegistry, promote
from sgm_models.training import EXPERIMENT, TrainingReport, check_measurable
from tests.support.model_dataset import ModelDataset


def test_the_baseline_beats_the_trivial_one_and_is_registered(
    trained: TrainingReport, mlflow_uri: str, model_dataset: ModelDataset
) -> None:
    print(f"\nheld-out test split: baseline {trained.test} vs trivial {trained.trivial}")
    assert trained.test.lesions > 0 and trained.beats_trivial
    assert trained.test.froc_score > trained.trivial.froc_score
    assert trained.model_version == "1" and set(trained.aliases) == {CHAMPION, CHALLENGER}
    client = mlflow_client(mlflow_uri)
    run = client.get_run(trained.run_id)
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert run.data.params["dataset_version"] == model_dataset.version and "learning_rate" in run.data.params
    for key in ("test.froc_score", "test.sensitivity_at_0.25fp", "test.sensitivity_at_8fp", "trivial.test.froc_score"):
        assert key in run.data.metrics
    assert run.inputs.dataset_inputs[0].dataset.digest == mlflow_digest(model_dataset.version)
    version = client.get_model_version(trained.model_name, "1")
    assert version.tags["sgm.dataset_digest"] == mlflow_digest(model_dataset.version)
    assert version.run_id == trained.run_id


def test_the_champion_loads_as_pyfunc_and_answers_the_contract(
    trained: TrainingReport, mlflow_uri: str, model_dataset: ModelDataset
) -> None:
    use_tracking(mlflow_uri)
    model = mlflow.pyfunc.load_model(f"models:/{trained.model_name}@champion")
    assert model.metadata.metadata["input_long_side"] == 1024
    assert [c.name for c in model.metadata.get_input_schema().inputs] == list(input_frame([]).columns)
    manifest, root = load_dataset(model_dataset.name, model_dataset.version, settings=model_dataset.settings)
    images = [i.image for i in split_images(manifest, root, "test", 1024)[:6]]
    output = model.predict(input_frame(images))
    results = parse_output(output, [(i.image_id, i.pixels.shape[1], i.pixels.shape[0]) for i in images])
    assert [r.image_id for r in results] == [i.image_id for i in images]
    exams = {i.exam_id: r.exam_score for i, r in zip(images, results, strict=True)}
    assert all(r.exam_score == exams[i.exam_id] >= r.image_score for i, r in zip(images, results, strict=True))
    assert all(json.loads(b) is not None for b in output["boxes"])


def test_unknown_model_or_alias_is_a_one_line_error(trained: TrainingReport, mlflow_uri: str) -> None:
    registry = ModelRegistry(mlflow_uri)
    with pytest.raises(UnknownModel, match="no registered model named 'nope'") as model_error:
        registry.model_uri("nope", CHAMPION)
    with pytest.raises(UnknownAlias, match="has no version aliased 'gold'") as alias_error:
        registry.model_uri(trained.model_name, "gold")
    assert "\n" not in str(model_error.value) + str(alias_error.value)
    with pytest.raises(UnknownAlias, match="no version 99"):
        registry.set_alias(trained.model_name, CHAMPION, "99")


@pytest.mark.mariadb
def test_champion_moves_only_after_a_comparison_on_the_same_version_and_is_audited(
    trained: TrainingReport,
    mlflow_uri: str,
    model_dataset: ModelDataset,
    session_factory: sessionmaker[Session],
) -> None:
    registry = ModelRegistry(mlflow_uri)
    source = mlflow_client(mlflow_uri).get_model_version(trained.model_name, "1").source
    for _ in range(2):  # a new version, as a retraining would register
        use_tracking(mlflow_uri)
        new = str(mlflow.register_model(source, trained.model_name).version)
        assert registry.adopt_new_version(trained.model_name, new) == (CHALLENGER,)
    champion = registry.version_of(trained.model_name, CHAMPION)
    assert champion != new and registry.version_of(trained.model_name, CHALLENGER) == new
    settings = model_dataset.settings
    with session_scope(session_factory) as session:
        kept = promote(
            session, settings, registry, trained.model_name, model_dataset.name, model_dataset.version, min_gain=0.5
        )
    assert not kept.moved and registry.version_of(trained.model_name, CHAMPION) == champion
    assert kept.champion_eval == kept.challenger_eval  # the same model: the same figures on the same split
    with session_scope(session_factory) as session:
        moved = promote(session, settings, registry, trained.model_name, model_dataset.name, "latest", user="alice")
    assert moved.moved and moved.dataset_version == model_dataset.version
    assert registry.version_of(trained.model_name, CHAMPION) == new
    with session_scope(session_factory) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "model.champion_changed")).all()
        assert len(events) == 1 and events[0].event_id == "110100" and events[0].user_id == "alice"
        assert events[0].detail["champion"] == [champion, new]
        assert events[0].detail["dataset_version"] == model_dataset.version
    listed = registry.versions(trained.model_name)
    assert listed[0].version == new and set(listed[0].aliases) == {CHAMPION, CHALLENGER}


def test_a_test_split_without_lesions_is_refused_in_one_line(model_dataset: ModelDataset) -> None:
    manifest, root = load_dataset(model_dataset.name, model_dataset.version, settings=model_dataset.settings)
    test = split_images(manifest, root, "test", 256)
    check_measurable(test, model_dataset.name, model_dataset.version)  # the real split has lesions
    without = [item for item in test if not item.lesions]
    assert without, "the model dataset's test split has no image without lesions"
    with pytest.raises(NoHeldOutLesions, match=r"test split of .* has no lesion \(\d+ images\)"):
        check_measurable(without, model_dataset.name, model_dataset.version)
