"""`.ci/run` is strict on its own: it sets CI=true itself and stops clearly when MariaDB is not there."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import require_peer

ROOT = Path(__file__).resolve().parents[2]
CI_SCRIPT = ROOT / ".ci" / "run"


def _run_ci(tmp_path: Path, **extra_env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `.ci/run` without CI in the environment, with `make` replaced by a recorder of its environment."""
    require_peer(shutil.which("mysqladmin") is not None, "the MariaDB client (mysqladmin) is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "make-called"
    (bin_dir / "make").write_text(f'#!/bin/sh\necho "CI=$CI args=$*" > {record}\n')
    (bin_dir / "make").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env.update(extra_env)
    result = subprocess.run(["bash", str(CI_SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=300)
    return result, record.read_text() if record.exists() else ""


def test_ci_sets_ci_true_itself(tmp_path: Path) -> None:
    result, make_call = _run_ci(tmp_path)
    assert result.returncode == 0, result.stderr
    assert make_call.strip() == "CI=true args=test"


def test_ci_stops_with_a_clear_message_when_mariadb_does_not_answer(tmp_path: Path) -> None:
    started = time.monotonic()
    # Port 9 (discard) on loopback: nothing of ours listens there, so MariaDB "does not come up".
    result, make_call = _run_ci(tmp_path, SGM_CI_MARIADB_PORT="9", SGM_CI_MARIADB_WAIT="2")
    assert result.returncode == 1
    assert make_call == "", "the tests must not run without MariaDB"
    assert "MariaDB did not answer at 127.0.0.1:9 within 2 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60
