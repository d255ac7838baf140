"""Model test fixtures: a real MLflow registry with test detectors, a real `mlflow models serve`, studies in the EMR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.models import Study
from emr_core.settings import Settings
from tests.support.models import PlantedStudy, Registry, model_registry, model_serve, write_studies

_ACTIVE: list[Registry] = []


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One registry per test run, though several test folders import this fixture."""
    if _ACTIVE:
        yield _ACTIVE[0]
        return
    with model_registry(tmp_path_factory.mktemp("mlflow")) as found:
        _ACTIVE.append(found)
        try:
            yield found
        finally:
            _ACTIVE.clear()


@pytest.fixture(scope="session")
def served(registry: Registry) -> Iterator[str]:
    """`mlflow models serve` of the champion test detector; yields its URL."""
    with model_serve(registry.uri, f"models:/{registry.detector}@champion", registry.root / "serve.log") as url:
        yield url


@pytest.fixture(scope="session")
def planted_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PlantedStudy]]:
    folder = tmp_path_factory.mktemp("studies")
    return folder, write_studies(folder)


@pytest.fixture
def studies(
    settings: Settings, session_factory: sessionmaker[Session], planted_files: tuple[Path, list[PlantedStudy]]
) -> dict[int, PlantedStudy]:
    """The planted studies ingested into this test's EMR, by study id."""
    folder, planted = planted_files
    ingest_paths(session_factory, settings.model_copy(update={"ingest_workers": 1}), [folder])
    with session_scope(session_factory) as session:
        ids = {uid: study_id for uid, study_id in session.execute(select(Study.study_uid, Study.id))}
    return {ids[p.study_uid]: p for p in planted}
