"""The compose `migrate` service's command, run for real: secrets from files, EMR and Dagster schemas on MariaDB."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect, make_url, text

from emr_core.db import make_engine
from tests.conftest import MARIADB_SERVER, require_peer

DOCKER = Path(__file__).resolve().parents[2] / "deployments" / "docker"

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]


@dataclass
class MysqlAccount:
    """A MariaDB user with a password and the two databases the compose file expects (EMR and Dagster)."""

    user: str
    password: str
    emr_db: str
    dagster_db: str


@pytest.fixture
def account() -> Iterator[MysqlAccount]:
    token = uuid.uuid4().hex[:10]
    acc = MysqlAccount(f"sgm_{token}", secrets.token_urlsafe(24), f"sgm_emr_{token}", f"sgm_dagster_{token}")
    server = make_engine(MARIADB_SERVER)
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE USER '{acc.user}'@'%' IDENTIFIED BY :pw"), {"pw": acc.password})
            for db in (acc.emr_db, acc.dagster_db):
                conn.execute(text(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
                conn.execute(text(f"GRANT ALL PRIVILEGES ON {db}.* TO '{acc.user}'@'%'"))
    except Exception as exc:
        require_peer(False, f"MariaDB not reachable at {MARIADB_SERVER}: {exc}")
    try:
        yield acc
    finally:
        with server.begin() as conn:
            for db in (acc.emr_db, acc.dagster_db):
                conn.execute(text(f"DROP DATABASE IF EXISTS {db}"))
            conn.execute(text(f"DROP USER IF EXISTS '{acc.user}'@'%'"))
        server.dispose()


def _interpolate(value: str) -> str:
    # What compose does with ${NAME:-default} when NAME is unset on the host.
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), value)


def _migrate_environment(tmp_path: Path, acc: MysqlAccount) -> dict[str, str]:
    """The compose platform environment, with container paths and host names moved to this machine."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    env = {key: _interpolate(str(value)) for key, value in compose["services"]["migrate"]["environment"].items()}
    host = make_url(MARIADB_SERVER).host or "127.0.0.1"
    run_secrets = tmp_path / "run-secrets"
    run_secrets.mkdir()
    (run_secrets / "mysql_password").write_text(acc.password + "\n")
    url = f"mysql+pymysql://{acc.user}:{acc.password}@{host}:3306/{acc.emr_db}?charset=utf8mb4"
    (run_secrets / "emr_database_url").write_text(url + "\n")
    (run_secrets / "labelstudio_token").write_text("0" * 40 + "\n")
    for key, value in env.items():
        if value.startswith("/run/secrets/"):
            env[key] = str(run_secrets / Path(value).name)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(DOCKER / "dagster.yaml", dagster_home / "dagster.yaml")
    env |= {"DAGSTER_HOME": str(dagster_home), "SGM_HOME": str(tmp_path / "sgm")}
    env |= {"DAGSTER_MYSQL_HOST": host, "DAGSTER_MYSQL_DB": acc.dagster_db, "DAGSTER_MYSQL_USER": acc.user}
    bin_dir = Path(sys.executable).parent
    return env | {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def test_compose_migrate_command_creates_both_schemas_from_secret_files(tmp_path: Path, account: MysqlAccount) -> None:
    command = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["migrate"]["command"]
    env = _migrate_environment(tmp_path, account)
    assert "SGM_DATABASE_URL" not in env and "DAGSTER_MYSQL_PASSWORD" not in env, "only *_FILE variables"
    result = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert account.password not in result.stdout + result.stderr, "the password is never printed"

    server = make_engine(MARIADB_SERVER)
    try:
        with server.connect() as conn:
            emr_tables = set(inspect(conn).get_table_names(schema=account.emr_db))
            dagster_tables = set(inspect(conn).get_table_names(schema=account.dagster_db))
    finally:
        server.dispose()
    assert {"alembic_version", "patients", "studies"} <= emr_tables
    assert {"runs", "event_logs", "jobs", "job_ticks", "instance_info"} <= dagster_tables
