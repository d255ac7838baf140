"""`sgm users add --password-file` (what `make run` uses for the demo accounts) gives a password that signs in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.roles import Role
from emr_core.clinical.users import login
from emr_core.db import session_scope

RUN_SCRIPT = Path(__file__).resolve().parents[3] / "deployments" / "local" / "run.sh"


def test_password_file_sets_a_password_that_logs_in(
    sgm, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("Xy7-demo-password\n", encoding="utf-8")
    added = sgm("users", "add", "demo.nurse", "--role", "clinician", "--password-file", str(secret))
    assert added.exit_code == 0, added.output
    with session_scope(session_factory) as session:
        assert login(session, "demo.nurse", "Xy7-demo-password") is not None
        assert login(session, "demo.nurse", "wrong") is None


def test_a_short_password_file_is_refused_with_one_line(sgm, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("short\n", encoding="utf-8")
    refused = sgm("users", "add", "demo.x", "--role", "clinician", "--password-file", str(secret))
    assert refused.exit_code == 1 and "at least 8 characters" in refused.output


def _accounts_block() -> str:
    """The part of run.sh that creates the web demo accounts, as the script runs it."""
    script = RUN_SCRIPT.read_text(encoding="utf-8")
    start = script.index("# Web app demo accounts")
    return script[start : script.index("\nfi\n", start) + 4]


def test_make_run_creates_a_web_account_per_role_that_signs_in(
    sgm, settings, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    accounts = settings.root / "demo-users.txt"
    snippet = tmp_path / "accounts.sh"
    snippet.write_text(
        "set -euo pipefail\n"
        f"sgm='{Path(sys.executable).parent / 'sgm'}'\nSGM_API_PORT=8123\ndemo_users='{accounts}'\n"
        + _accounts_block(),
        encoding="utf-8",
    )
    settings.root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SGM_HOME": str(settings.root), "SGM_DATABASE_URL": settings.url}
    subprocess.run(["bash", str(snippet)], check=True, env=env, timeout=300)
    assert accounts.stat().st_mode & 0o077 == 0, "the accounts file must be private"
    found = re.findall(r"web user (\S+) \((\S+)\) password: (\S+)", accounts.read_text(encoding="utf-8"))
    assert {role for _, role, _ in found} == {r.value for r in Role}
    with session_scope(session_factory) as session:
        for name, _, password in found:
            assert login(session, name, password) is not None, name
    banner = RUN_SCRIPT.read_text(encoding="utf-8").split("cat <<MSG", 1)[1]
    assert banner.index("Clinical web application") < banner.index("Dagster UI")
