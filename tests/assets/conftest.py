"""Fixtures shared with tests/quality (a synthetic corpus and a migrated SQLite data folder per test), the model
tests (a registry with planted studies) and the annotation tests (the session's Label Studio and its corpus)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.quality.conftest import emr, migrated_sqlite, quality_corpus  # noqa: F401 (fixtures)
from tests.support.lsenv import LabelStudioEnv, shared_corpus, shared_label_studio
from tests.support.model_fixtures import planted_files, registry, studies  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioEnv]:
    yield from shared_label_studio(tmp_path_factory)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_corpus(tmp_path_factory)
