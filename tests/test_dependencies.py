"""Every integration we declare imports, and the Dagster family is pinned together.

Which package may import which (domain packages free of Dagster, FastAPI and Click) is an
import-linter contract in pyproject.toml, run by `make lint`.
"""

from __future__ import annotations

import importlib

import pytest

# One module per declared dependency: a broken resolve (e.g. a 2021 dagster-postgres) fails here.
DECLARED_INTEGRATIONS = [
    "dagster",
    "dagster_webserver",
    "dagster_postgres",
    "dagster_mysql",
    "dagster_celery",
    "dagster_k8s",
    "pydicom",
    "pynetdicom",
    "highdicom",
    "numpy",
    "PIL",
    "sqlalchemy",
    "alembic",
    "pymysql",
    "pydantic",
    "pydantic_settings",
    "click",
    "tqdm",
    "rapidfuzz",
    "pandas",
    "label_studio_sdk",
    "great_expectations",
    "mlflow",
    "matplotlib",
    "defusedxml",
    "pyarrow",
    "boto3",
]


@pytest.mark.parametrize("module", DECLARED_INTEGRATIONS)
def test_declared_integration_imports(module: str) -> None:
    assert importlib.import_module(module) is not None


def test_dagster_family_is_pinned_together() -> None:
    import dagster
    import dagster_mysql
    import dagster_postgres
    import dagster_webserver

    assert dagster_webserver.__version__ == dagster.__version__
    # The integrations version as 0.<minor+16>.<patch> of the core release they belong to.
    core_patch = dagster.__version__.split(".")[2]
    assert dagster_postgres.__version__.split(".")[2] == core_patch
    assert dagster_mysql.__version__.split(".")[2] == core_patch
