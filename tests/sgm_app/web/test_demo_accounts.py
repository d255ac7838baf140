"""`sgm users add --password-file` (what `make run` uses for the demo accounts) gives a password that signs in."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

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


def test_make_run_creates_a_web_account_per_role_and_prints_the_app_first() -> None:
    script = RUN_SCRIPT.read_text(encoding="utf-8")
    for role in ("clinician", "radiologist", "data_engineer", "admin", "researcher"):
        assert f":{role}" in script
    assert "--password-file" in script
    banner = script[script.index("cat <<MSG") :]
    assert banner.index("Clinical web application") < banner.index("Dagster UI")
