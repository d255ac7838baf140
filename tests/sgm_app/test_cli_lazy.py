"""`sgm` imports a command's module only when that command runs: `sgm deidentify` starts as fast as it can."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from sgm_app.cli import COMMANDS, cli
from tests.support.dicom_factory import write_mg

CLI_DIR = Path(__file__).resolve().parents[2] / "sgm_app" / "cli"
HEAVY = ("alembic", "sqlalchemy", "dagster", "pandas", "great_expectations", "mlflow", "label_studio_sdk")


def test_the_command_table_names_exactly_what_each_module_registers() -> None:
    modules = sorted(p.stem for p in CLI_DIR.glob("*_commands.py"))
    assert sorted(set(COMMANDS.values())) == modules
    for module in modules:
        group = click.Group()
        importlib.import_module(f"sgm_app.cli.{module}").register(group)
        assert sorted(group.commands) == sorted(n for n, m in COMMANDS.items() if m == module), module


def test_every_command_is_listed_and_resolves() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    assert all(cli.get_command(ctx, name) is not None for name in COMMANDS)


def _imported(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `sgm ARGS` in a fresh interpreter; the top-level packages it had imported when it finished."""
    script = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print('MODULES=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))\n"
        f"sys.argv = ['sgm', *{args!r}]\n"
        "from sgm_app.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    return done, set(json.loads(line.removeprefix("MODULES=")))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SGM_")}
    out["SGM_HOME"] = str(tmp_path / "sgm")
    return out


def test_deidentify_help_imports_no_database_or_pipeline_library(env: dict[str, str]) -> None:
    done, modules = _imported(["deidentify", "--help"], env)
    assert done.returncode == 0, done.stderr
    assert modules.isdisjoint(HEAVY), modules & set(HEAVY)
    assert "pydicom" not in modules  # not even the DICOM stack, for help


def test_deidentify_imports_only_what_it_uses(env: dict[str, str], tmp_path: Path) -> None:
    upgraded = subprocess.run(
        [sys.executable, "-c", "from sgm_app.cli import main; main()", "db", "upgrade"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    source = tmp_path / "in" / "mg.dcm"
    source.parent.mkdir()
    write_mg(source, BurnedInAnnotation="NO")
    done, modules = _imported(["deidentify", str(source), str(tmp_path / "out"), "--workers", "1"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "de-identified 1 file(s)" in done.stdout
    # SQLAlchemy writes the Export audit event; Alembic, Dagster, pandas and the rest stay out.
    assert modules.isdisjoint(set(HEAVY) - {"sqlalchemy"}), modules & set(HEAVY)
