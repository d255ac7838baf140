"""Shared fixtures: the EMR database on SQLite and on MariaDB, a data folder per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import make_engine, make_session_factory
from emr_core.migrate import upgrade
from emr_core.models import Base
from emr_core.settings import Settings

MARIADB_SERVER = os.environ.get("SGM_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_peer(available: bool, reason: str) -> None:
    """Skip a test whose external peer is missing, except in CI where that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: peers are mandatory)")
    pytest.skip(reason)


# Tests sharing an expensive session fixture (a server, a generated corpus) go to one xdist worker, so
# `make test` (-n 2 --dist loadgroup) starts each once; the first fixture listed that a test uses decides.
SHARED_FIXTURE_GROUPS = {
    "label_studio": "label-studio",
    "mlflow_uri": "models",
    "model_dataset": "models",
    "registry": "models",
    "planted_files": "models",
    "web_server": "web",
    "platform_home": "make-run",  # the restart test needs the data folder the first start made, on its worker
    "quality_corpus": "quality",
    "dataset_corpus": "datasets",
    "corpus": "corpus",
    "large_corpus": "corpus",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = getattr(item, "fixturenames", ())
        group = next((g for name, g in SHARED_FIXTURE_GROUPS.items() if name in used), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


def _mariadb_engine() -> Generator[Engine, None, None]:
    server = make_engine(MARIADB_SERVER)
    name = f"sgm_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except Exception as exc:
        require_peer(False, f"MariaDB not reachable at {MARIADB_SERVER}: {exc}")
    engine = make_engine(f"{MARIADB_SERVER}/{name}?charset=utf8mb4")
    try:
        yield engine
    finally:
        engine.dispose()
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


MLFLOW_GLOBALS = {  # module: the process-global mlflow keeps there (set_tracking_uri, set_registry_uri, ...)
    "mlflow.tracking.fluent": "_active_experiment_id",
    "mlflow.tracking._tracking_service.utils": "_tracking_uri",
    "mlflow.tracking._model_registry.utils": "_registry_uri",
}


@pytest.fixture(autouse=True)
def _no_mlflow_state_left() -> Iterator[None]:
    """mlflow keeps the experiment and both URIs process-global and exports them to the environment of every
    later subprocess: no test inherits another's (a leaked registry URI once sent a lookup to a dead server)."""
    keys = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    before = {key: os.environ.get(key) for key in keys}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for module_name, attribute in MLFLOW_GLOBALS.items():
        module = sys.modules.get(module_name)
        if module is not None:
            setattr(module, attribute, None)


@pytest.fixture(autouse=True)
def _audit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's audit key and checkpoints live in its own data folder, never in the checkout."""
    monkeypatch.setenv("SGM_HOME", str(tmp_path / "sgm"))


@pytest.fixture(scope="session", params=["sqlite", "mariadb"])
def migrated_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database per backend for the whole run (MariaDB: created, then dropped)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "emr.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    gen = _mariadb_engine()
    engine = next(gen)
    upgrade(engine)
    yield engine
    gen.close()


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after each test."""
    yield migrated_engine
    with migrated_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def settings(tmp_path: Path, engine: Engine) -> Settings:
    """Settings whose data folder is a fresh temporary directory and database the test backend."""
    return Settings(home=tmp_path / "sgm", database_url=engine.url.render_as_string(hide_password=False))


@dataclass
class SgmCli:
    """Runs `sgm` in-process against the test's data folder and database."""

    runner: CliRunner

    def __call__(self, *args: str) -> Result:
        from sgm_app.cli import _register, cli

        _register()
        return self.runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def sgm(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> SgmCli:
    """`sgm` with SGM_HOME and SGM_DATABASE_URL pointing at this test's data folder and database."""
    monkeypatch.setenv("SGM_HOME", str(settings.home))
    monkeypatch.setenv("SGM_DATABASE_URL", settings.url)
    cli = SgmCli(CliRunner())
    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    return cli


@pytest.fixture(scope="session")
def model_dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real dataset version to train detectors on (tests/support/model_dataset.py), built once per run."""
    from tests.support.model_dataset import MODEL_CORPUS, build_model_dataset

    return build_model_dataset(tmp_path_factory.mktemp("model-dataset"), MODEL_CORPUS)


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (SQLite backend) shared by the model tests of a run."""
    from tests.support.servers import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as port:
        yield f"http://127.0.0.1:{port}"
