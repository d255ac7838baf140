"""The gateway's nginx never outlives the process that started it, even one killed with SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import require_peer

START = """
import sys, time
from pathlib import Path
from sgm_app.gateway.nginx import GatewayLayout, start_nginx
nginx = start_nginx(GatewayLayout(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
print(nginx.pid, flush=True)
time.sleep(600)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_nginx_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    require_peer(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file(), "nginx is not installed")
    port = _free_port()
    args = [str(tmp_path / "gateway"), str(port), str(_free_port()), str(_free_port())]
    parent = subprocess.Popen([sys.executable, "-c", START, *args], stdout=subprocess.PIPE, text=True)
    nginx_pid = 0
    try:
        assert parent.stdout is not None
        nginx_pid = int(parent.stdout.readline())
        assert _wait_until(lambda: _listening(port)), "nginx did not start listening"
        workers = [int(p) for p in Path(f"/proc/{nginx_pid}/task/{nginx_pid}/children").read_text().split()]
        assert workers, "nginx started no worker"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_until(lambda: not any(_alive(p) for p in (nginx_pid, *workers))), "nginx outlived its parent"
        assert not _listening(port)
    finally:
        if parent.poll() is None:
            parent.kill()
        if nginx_pid and _alive(nginx_pid):
            os.kill(nginx_pid, signal.SIGTERM)  # not SIGKILL: the master stops its workers on the way out
