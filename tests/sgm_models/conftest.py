"""Model tests: one real dataset version of a small synthetic corpus, a real MLflow server, one trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from detection.baseline import BaselineConfig
from emr_core.synthetic.corpus import CorpusOptions
from sgm_models.training import TrainingReport, TrainingRequest, train_detector
from tests.support.model_dataset import ModelDataset, build_model_dataset
from tests.support.servers import mlflow_server

# 60 patients: about a dozen exams with findings, so the held-out split has lesions to find.
CORPUS = CorpusOptions(patients=60, seed=5, columns=256, rows=320, prior_fraction=0.0)
MODEL = "test-detector"


@pytest.fixture(scope="session")
def model_dataset(tmp_path_factory: pytest.TempPathFactory) -> ModelDataset:
    return build_model_dataset(tmp_path_factory.mktemp("model-dataset"), CORPUS)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def trained(model_dataset: ModelDataset, tracking_uri: str) -> TrainingReport:
    request = TrainingRequest(model_dataset.name, model_name=MODEL, config=BaselineConfig(iterations=60, seed=1))
    return train_detector(model_dataset.settings, request, tracking_uri)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path
