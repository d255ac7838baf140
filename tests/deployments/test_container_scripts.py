"""The scripts the containers run: the secret-file entrypoint, the health checks, the secrets generator, the gateway."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from tests.conftest import require_peer

DOCKER = Path(__file__).resolve().parents[2] / "deployments" / "docker"
HEALTHCHECK = DOCKER / "healthcheck.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(HEALTHCHECK), "--timeout", "3", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"upstream saw {self.path} host={self.headers['Host']}".encode()
        self.send_response(200 if self.path != "/broken" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    """A plain HTTP server on loopback standing in for Label Studio or the API."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_entrypoint_exports_secret_files_and_drops_the_file_variables(tmp_path: Path) -> None:
    secret = tmp_path / "db_url"
    secret.write_text("mysql+pymysql://sgm:s3cr$t@mysql/emr\n")
    env = {"PATH": "/usr/bin:/bin", "SGM_DATABASE_URL_FILE": str(secret)}
    result = subprocess.run(
        [
            "sh",
            str(DOCKER / "entrypoint.sh"),
            "sh",
            "-c",
            'printf "%s|%s" "$SGM_DATABASE_URL" "${SGM_DATABASE_URL_FILE-unset}"',
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mysql+pymysql://sgm:s3cr$t@mysql/emr|unset"


def test_entrypoint_refuses_a_missing_secret_file(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SGM_LABEL_STUDIO_TOKEN_FILE": str(tmp_path / "absent")}
    result = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), "true"], env=env, check=False, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "SGM_LABEL_STUDIO_TOKEN_FILE" in result.stderr and "not readable" in result.stderr


def test_http_health_check_follows_the_status_code(upstream: int) -> None:
    assert _healthcheck("http", f"http://127.0.0.1:{upstream}/health").returncode == 0
    broken = _healthcheck("http", f"http://127.0.0.1:{upstream}/broken")
    assert broken.returncode == 1 and "unhealthy" in broken.stderr
    assert _healthcheck("http", f"http://127.0.0.1:{_free_port()}/health").returncode == 1


def test_tcp_health_check(upstream: int) -> None:
    assert _healthcheck("tcp", "127.0.0.1", str(upstream)).returncode == 0
    assert _healthcheck("tcp", "127.0.0.1", str(_free_port())).returncode == 1


def test_dicom_health_check_sends_a_c_echo() -> None:
    ae = AE(ae_title="SGM")
    ae.add_supported_context(Verification)
    echoes: list[str] = []

    def on_echo(event: evt.Event) -> int:
        echoes.append(event.assoc.requestor.ae_title)
        return 0x0000

    port = _free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)])
    assert server is not None
    try:
        assert _healthcheck("echo", "127.0.0.1", str(port), "--called", "SGM").returncode == 0
        assert echoes == ["SGM-HEALTH"]
    finally:
        server.shutdown()
    assert _healthcheck("echo", "127.0.0.1", str(port)).returncode == 1, "a stopped receiver is unhealthy"


def test_make_secrets_writes_private_consistent_files_and_keeps_them(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    subprocess.run(["sh", str(DOCKER / "make-secrets.sh"), str(target)], check=True, capture_output=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    password = (target / "mysql_password").read_text().strip()
    assert len(password) >= 40
    assert f"sgm:{password}@mysql:3306/emr" in (target / "emr_database_url").read_text()
    ls_env = (target / "labelstudio_env").read_text()
    assert f"export POSTGRE_PASSWORD={(target / 'labelstudio_db_password').read_text().strip()}" in ls_env
    assert f"export LABEL_STUDIO_USER_TOKEN={(target / 'labelstudio_token').read_text().strip()}" in ls_env
    before = {path.name: path.read_text() for path in target.iterdir()}
    again = subprocess.run(
        ["sh", str(DOCKER / "make-secrets.sh"), str(target)], check=True, capture_output=True, text=True
    )
    assert "kept" in again.stdout
    assert {path.name: path.read_text() for path in target.iterdir()} == before
    other = tmp_path / "other"
    subprocess.run(["sh", str(DOCKER / "make-secrets.sh"), str(other)], check=True, capture_output=True)
    assert (other / "mysql_password").read_text() != (target / "mysql_password").read_text()


def _gateway_config(tmp_path: Path, listen: int, upstream: int) -> Path:
    # The shipped file with only the addresses changed: loopback ports instead of compose host names,
    # and a private folder for the pid and temp files.
    text = (DOCKER / "gateway" / "nginx.conf").read_text()
    text = text.replace("server labelstudio:8080;", f"server 127.0.0.1:{upstream};")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("/tmp/", f"{tmp_path}/")
    assert f"127.0.0.1:{upstream}" in text and f"127.0.0.1:{listen}" in text
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_gateway_configuration_proxies_to_label_studio_with_real_nginx(tmp_path: Path, upstream: int) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    require_peer(nginx is not None, "nginx is not installed")
    assert nginx is not None
    listen = _free_port()
    config = _gateway_config(tmp_path, listen, upstream)
    tested = subprocess.run(
        [nginx, "-t", "-c", str(config), "-p", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stderr
    proc = subprocess.Popen(
        [nginx, "-c", str(config), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{listen}/gateway-health")
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the gateway did not answer")
        assert (status, body) == (200, "ok\n")
        status, body = _get(f"http://127.0.0.1:{listen}/projects/3/data?tab=1")
        assert status == 200
        assert body == f"upstream saw /projects/3/data?tab=1 host=127.0.0.1:{listen}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _compose_service(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"][name])


def _on_loopback(command: list[str], port: int) -> list[str]:
    # The compose command with the container's address and port swapped for loopback and a free port.
    swapped = {"0.0.0.0": "127.0.0.1", "4000": str(port)}
    return [swapped.get(arg, arg) for arg in command]


@pytest.mark.slow
def test_code_location_command_serves_and_passes_its_compose_health_check(tmp_path: Path) -> None:
    service = _compose_service("dagster-code")
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env["SGM_HOME"] = str(tmp_path / "sgm")
    log = (tmp_path / "grpc.log").open("wb")
    server = subprocess.Popen(
        _on_loopback(service["command"], port), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    check = _on_loopback(service["healthcheck"]["test"][1:], port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "grpc.log").read_text()[-2000:]
            if subprocess.run(check, env=env, capture_output=True, check=False, timeout=60).returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail("the code location never passed its health check")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert subprocess.run(check, env=env, capture_output=True, check=False, timeout=60).returncode != 0
