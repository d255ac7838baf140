"""Fixtures: one real Label Studio per test session, readers with their own tokens, a synthetic corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, run_gateway
from tests.support.lsenv import LabelStudioEnv, settings_for, shared_corpus, shared_label_studio


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioEnv]:
    yield from shared_label_studio(tmp_path_factory)


@pytest.fixture
def ls_settings(label_studio: LabelStudioEnv, engine: Engine) -> Settings:
    return settings_for(label_studio, engine)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_corpus(tmp_path_factory)


@pytest.fixture
def gateway(label_studio: LabelStudioEnv, engine: Engine, tmp_path: Path) -> Iterator[GatewayEnv]:
    yield from run_gateway(label_studio, engine, tmp_path)
