"""Model tests: the shared dataset version and MLflow server (tests/conftest.py), one trained model, and the
registry, model server and planted studies of tests/support/model_fixtures.py."""

from __future__ import annotations

import pytest

from detection.baseline import BaselineConfig
from sgm_models.training import TrainingReport, TrainingRequest, train_detector
from tests.support.model_dataset import ModelDataset
from tests.support.model_fixtures import planted_files, registry, served, studies  # noqa: F401 (fixtures)

MODEL = "test-detector"


@pytest.fixture(scope="module")
def trained(model_dataset: ModelDataset, mlflow_uri: str) -> TrainingReport:
    request = TrainingRequest(model_dataset.name, model_name=MODEL, config=BaselineConfig(iterations=60, seed=1))
    return train_detector(model_dataset.settings, request, mlflow_uri)
