"""Real peers on loopback for dataset tests: moto's S3 server and an MLflow tracking server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import require_peer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


@contextmanager
def _server(
    command: list[str], url: str, seconds: float, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    # Unbuffered: a server that never answers still leaves in its log how far it got.
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        ready = _wait(url, process, seconds)
        state = "still running" if process.poll() is None else f"exited with {process.returncode}"
        tail = log.read_text(errors="replace")[-500:]
        require_peer(ready, f"{command[0]} did not answer at {url} within {seconds:.0f} s ({state}): {tail}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    require_peer(found is not None, f"{name} is not installed")
    return str(found)


@contextmanager
def moto_s3(log: Path) -> Iterator[str]:
    """moto's S3 API server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _server([_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/", 60, log):
        yield url


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server for a test module (import this fixture into the module to use it)."""
    with moto_s3(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


def s3_test_client(endpoint: str) -> Any:
    """A boto3 client with the (any) keys moto accepts."""
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )


def fresh_bucket(endpoint: str, prefix: str, tmp_path: Path) -> str:
    """A new bucket named after the test (its tmp folder), created on the server."""
    name = f"{prefix}-{tmp_path.name.lower().replace('_', '-')[-40:]}".rstrip("-")
    s3_test_client(endpoint).create_bucket(Bucket=name)
    return name


@contextmanager
def mlflow_server(root: Path, seconds: float = 300) -> Iterator[int]:
    """`mlflow server` with a SQLite backend and artifacts under root; yields its port (waits `seconds`)."""
    port = free_port()
    command = [
        _bin("mlflow"), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # Its first start creates the tables: minutes on a loaded 2-core machine.
    with _server(command, f"http://127.0.0.1:{port}/health", seconds, root / "mlflow.log"):
        yield port


def status_of_one_response(sock: socket.socket) -> int:
    """The status of one HTTP/1.1 response read off a raw socket (its body read too, by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the keep-alive connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return int(head.split()[1])
