"""Every integration we declare imports, and the domain packages stay free of Dagster."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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


def _modules(package: str) -> list[str]:
    path = ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
        if ".migrations" not in info.name:
            names.append(info.name)
    return names


@pytest.mark.parametrize("package", ["emr_core", "annotation_ui", "quality", "datasets"])
def test_domain_package_never_imports_dagster(package: str) -> None:
    modules = _modules(package)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.'))\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(modules) >= 1
