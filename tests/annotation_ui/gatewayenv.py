"""The reading gateway (`sgm gateway serve`: nginx + our access endpoint) in front of the session's Label Studio."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from emr_core.models import AuditEvent
from tests.conftest import require_peer
from tests.support.lsenv import LabelStudioEnv, _free_port


@dataclass(frozen=True)
class GatewayEnv:
    url: str
    log: Path
    endpoint: str  # the access endpoint itself, behind nginx (also on loopback)

    def as_token(self, token: str) -> requests.Session:
        """A client that goes through the gateway with a reader's Label Studio token."""
        http = requests.Session()
        http.headers["Authorization"] = f"Token {token}"
        return http


def run_gateway(env: LabelStudioEnv, engine: Engine, home: Path) -> Iterator[GatewayEnv]:
    """Start `sgm gateway serve` as a radiologist site would, wait until nginx answers, stop it afterwards."""
    require_peer(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file(), "nginx is not installed")
    port, auth_port = _free_port(), _free_port()
    environ = {
        **os.environ,
        "SGM_HOME": str(env.root),
        "SGM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SGM_LABEL_STUDIO_PORT": str(env.server.port),
        "SGM_GATEWAY_PORT": str(port),
        "SGM_GATEWAY_AUTH_PORT": str(auth_port),
    }
    log = home / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from sgm_app.cli import main; main()", "gateway", "serve"],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, log)
        yield GatewayEnv(url, log, f"http://127.0.0.1:{auth_port}")
    finally:
        process.terminate()
        assert process.wait(timeout=30) is not None


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(450):  # the endpoint imports the platform: ~10 s on a loaded machine
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/_gateway/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not answer at {url}: {log.read_text()[-2000:]}")


def audit_count(session: Session, event_type: str, user: str = "") -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == event_type)
    if user:
        query = query.where(AuditEvent.user_id == user)
    return int(session.scalar(query) or 0)
