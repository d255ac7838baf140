"""Model tests: the shared dataset version and MLflow server (tests/conftest.py), one trained model, and the
registry, model server and planted studies of tests/support/model_fixtures.py."""

from __future__ import annotations

import uuid

import pytest

from detection.baseline import BaselineConfig
from sgm_models.training import TrainingReport, TrainingRequest, train_detector
from tests.support.model_dataset import ModelDataset
from tests.support.model_fixtures import planted_files, registry, served, studies  # noqa: F401 (fixtures)

MODEL = "test-detector"  # a prefix: each trained fixture registers its own model, version 1 whatever ran before


@pytest.fixture(scope="module")
def trained(model_dataset: ModelDataset, mlflow_uri: str) -> TrainingReport:
    name = f"{MODEL}-{uuid.uuid4().hex[:8]}"
    request = TrainingRequest(model_dataset.name, model_name=name, config=BaselineConfig(iterations=60, seed=1))
    return train_detector(model_dataset.settings, request, mlflow_uri)
