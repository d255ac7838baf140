"""`make run`'s start script stops everything it started, whichever signal stops it, within a bounded time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import require_peer
from tests.deployments.model_walk import walk_the_model_loop
from tests.deployments.researcher_walk import walk_the_researcher_path

ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPT = ROOT / "deployments" / "local" / "run.sh"
READY_LINE = "The platform is running"
PORT_VARIABLES = (
    "SGM_DAGSTER_PORT",
    "SGM_API_PORT",
    "SGM_LABEL_STUDIO_PORT",
    "SGM_DICOM_PORT",
    "SGM_MLFLOW_PORT",
    "SGM_GATEWAY_PORT",
    "SGM_GATEWAY_AUTH_PORT",
)
Platform = tuple[subprocess.Popen[str], dict[str, int], Path]
STOP_BUDGET_S = 45  # the script's own grace period is 20 s; the rest is slack for a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_bound(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_mentioning(marker: str) -> list[str]:
    """Command lines of live processes whose command line or environment holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or marker.encode() in environ:
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


@pytest.fixture(scope="module")
def label_studio_bin() -> str:
    binary = os.environ.get("SGM_LABEL_STUDIO_BIN", str(ROOT / ".venv-labelstudio" / "bin" / "label-studio"))
    require_peer(Path(binary).exists(), f"Label Studio not installed at {binary}")
    return binary


@pytest.fixture(scope="module")
def platform_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for both starts: the second start reuses Label Studio's migrated database."""
    return tmp_path_factory.mktemp("make-run")


def _platform_env(home: Path, ports: dict[str, int], label_studio_bin: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGM_", "DAGSTER_", "MLFLOW_"))}
    env.update({name: str(port) for name, port in ports.items()})
    env.update(
        SGM_HOME=str(home),
        SGM_LABEL_STUDIO_BIN=label_studio_bin,
        VENV=str(Path(sys.executable).parent.parent),
    )
    return env


def _start_platform(home: Path, label_studio_bin: str) -> Platform:
    ports = {name: _free_port() for name in PORT_VARIABLES}
    env = _platform_env(home, ports, label_studio_bin)
    log_path = home / f"run-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    # A session of its own, as a terminal or a service manager gives the platform: the signal goes to its group.
    proc = subprocess.Popen(
        ["bash", str(RUN_SCRIPT)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    return proc, ports, log_path


def _wait_until_ready(proc: subprocess.Popen[str], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if READY_LINE in log_path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"the platform exited early ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        time.sleep(1)
    pytest.fail(f"the platform was not ready within {timeout_s} s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def running_platform(platform_home: Path, label_studio_bin: str) -> Iterator[Platform]:
    started = _start_platform(platform_home, label_studio_bin)
    try:
        yield started
    finally:
        _leave_nothing_behind(started[0], platform_home)


def _leave_nothing_behind(proc: subprocess.Popen[str], platform_home: Path) -> None:
    """After a failed test: the platform's own stop first (it ends each service's whole process group), then
    SIGKILL to the groups of what is left. Never SIGKILL to a lone process: an nginx master killed so leaves its
    workers, which carry no environment to find them by, holding the gateway's port."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    for line in _processes_mentioning(str(platform_home)):
        with suppress(ProcessLookupError):
            group = os.getpgid(int(line.split(":")[0]))
            if group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)


@pytest.mark.slow
def test_stopping_leaves_no_process_and_no_bound_port(
    platform_home: Path, label_studio_bin: str, tmp_path: Path
) -> None:
    """The first start (stopped by Ctrl-C), then a restart on the same data folder (stopped by SIGTERM), in order."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        with running_platform(platform_home, label_studio_bin) as platform:
            _start_walk_and_stop(platform, platform_home, stop_signal, label_studio_bin, tmp_path)


def _start_walk_and_stop(
    platform: Platform, platform_home: Path, stop_signal: int, label_studio_bin: str, tmp_path: Path
) -> None:
    proc, ports, log_path = platform
    # The first start reads, adjudicates and exports the demo: minutes on a busy 2-core machine.
    _wait_until_ready(proc, log_path, timeout_s=1500)
    for name, port in ports.items():
        assert _port_is_bound(port), f"{name} {port} is not listening:\n{log_path.read_text()[-3000:]}"
    if stop_signal == signal.SIGINT:  # the first start: walk the researcher's path and the model loop it ran
        env = _platform_env(platform_home, ports, label_studio_bin)
        walk_the_researcher_path(env, ports, tmp_path)
        walk_the_model_loop(env, ports, log_path.read_text(errors="replace"))
    else:  # the second start on the same data folder: nothing of the demo is done twice
        output = log_path.read_text(errors="replace")
        assert "simulating the demo readers" not in output, output[-3000:]
        assert "training the baseline detector" not in output, output[-3000:]
        assert "demo campaign not created" not in output, output[-3000:]

    started = time.monotonic()
    os.killpg(proc.pid, stop_signal)
    proc.wait(timeout=STOP_BUDGET_S + 15)
    elapsed = time.monotonic() - started

    output = log_path.read_text(errors="replace")
    assert "stopped." in output, output[-2000:]
    assert elapsed < STOP_BUDGET_S, f"stopping took {elapsed:.0f} s"
    assert _processes_mentioning(str(platform_home)) == []
    assert [name for name, port in ports.items() if _port_is_bound(port)] == []
