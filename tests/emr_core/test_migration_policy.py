"""One migration policy: only `sgm db upgrade` migrates; the CLI, the API and the Dagster resources refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from assets.resources import EmrDatabaseResource
from emr_core.db import make_engine
from emr_core.migrate import NotMigratedError, require_current
from sgm_app.cli import _register, cli
from tests.support.resources import dagster_resources


def test_an_empty_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'emr.db'}")
    with pytest.raises(NotMigratedError, match=r"database not migrated: run `sgm db upgrade`"):
        require_current(engine)
    assert inspect(engine).get_table_names() == []


def test_the_dagster_resource_refuses_instead_of_migrating(tmp_path: Path) -> None:
    from emr_core.settings import load_settings

    settings = load_settings(home=tmp_path / "sgm")
    settings.root.mkdir(parents=True)
    emr_db = dagster_resources(settings)["emr_db"]
    assert isinstance(emr_db, EmrDatabaseResource)
    with pytest.raises(NotMigratedError, match="run `sgm db upgrade`"):
        emr_db.sessions()
    assert inspect(make_engine(settings.url)).get_table_names() == []


def test_the_cli_refuses_with_one_line_and_db_upgrade_migrates(tmp_path: Path) -> None:
    _register()
    env = {"SGM_HOME": str(tmp_path / "sgm"), "SGM_DATABASE_URL": None}
    refused = CliRunner().invoke(cli, ["status"], env=env)
    assert refused.exit_code != 0 and "database not migrated: run `sgm db upgrade`" in refused.output
    assert "Traceback" not in refused.output
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert CliRunner().invoke(cli, ["status"], env=env).exit_code == 0
