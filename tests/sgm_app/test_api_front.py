"""`sgm api serve --workers 2`: a real nginx in front of two real API processes, per-request balancing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.models import AuditEvent
from tests.conftest import require_peer
from tests.support.servers import free_port, status_of_one_response


def _children(pid: int) -> list[int]:
    """Every descendant of a process (Linux /proc)."""
    direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return direct + [g for c in direct for g in _children(c)]


def _accepted_connections(socket_path: str) -> int:
    """Connections a worker's unix socket has accepted and holds (lines of /proc/net/unix beyond the listener)."""
    lines = Path("/proc/net/unix").read_text().splitlines()
    return sum(1 for line in lines if line.endswith(socket_path)) - 1


@pytest.fixture
def front(sgm, settings) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """`sgm api serve --workers 2` on a free port; yields the process, its base URL and a clinician's token."""
    require_peer(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file(), "nginx is not installed")
    token = sgm("users", "add", "dr.front", "--role", "radiologist").output.strip().splitlines()[-1]
    port = free_port()
    env = {**os.environ, "SGM_HOME": str(settings.home), "SGM_DATABASE_URL": settings.url}
    command = [sys.executable, "-c", "from sgm_app.cli import main; main()", "api", "serve", "--workers", "2"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    started = server.stdout.readline()  # printed once both workers listen and nginx runs
    assert "2 processes behind nginx" in started, (started, server.stderr.read() if server.poll() is not None else "")
    try:
        yield server, f"http://127.0.0.1:{port}", token
    finally:
        if server.poll() is None:
            server.terminate()
        server.communicate(timeout=60)


def _sockets(server: subprocess.Popen[str]) -> list[str]:
    """The workers' socket paths, read off their command lines."""
    paths = []
    for pid in _children(server.pid):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"--uds" in args:
            paths.append(args[args.index(b"--uds") + 1].decode())
    return paths


def test_requests_spread_over_both_processes_and_keep_the_client_address(front, settings) -> None:
    server, base, token = front
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{base}/patients", json={"full_name": "Tran^Thi Front"}, headers=auth)
    assert created.status_code == 201, created.text
    patient = created.json()["id"]
    forged = {**auth, "X-Forwarded-For": "203.0.113.9"}  # a client cannot choose the address the audit records
    with httpx.Client(base_url=base, headers=forged, limits=httpx.Limits(max_connections=8)) as client:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: client.get(f"/patients/{patient}").status_code, range(40)))
        assert statuses == [200] * 40
        sockets = _sockets(server)
        assert len(sockets) == 2
        assert all(_accepted_connections(path) >= 1 for path in sockets), "one process got no request"
    engine = make_engine(settings.url)
    try:
        with session_scope(make_session_factory(engine, settings)) as session:
            reads = session.scalars(
                select(AuditEvent.network_address).where(AuditEvent.event_type == "patient", AuditEvent.action == "R")
            ).all()
    finally:
        engine.dispose()
    assert len(reads) == 40 and set(reads) == {"127.0.0.1"}


def test_errors_stay_json_and_a_stalled_client_holds_no_one_up(front) -> None:
    _, base, token = front
    auth = {"Authorization": f"Bearer {token}"}
    too_big = httpx.post(
        f"{base}/patients", content=b"x" * (2 << 20), headers={**auth, "Content-Type": "application/json"}
    )
    assert too_big.status_code == 413 and "larger than the limit" in too_big.json()["detail"]  # the API's answer
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as stalled, socket.create_connection(("127.0.0.1", port)) as bad:
        stalled.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        bad.sendall(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
        reply = bad.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400") and b'"detail": "malformed request"' in reply
    bad_chunks = b"POST /auth/login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n"
    for request in (bad_chunks, b"GET / HTTP/9.9\r\nHost: a\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port)) as peer:
            peer.sendall(request)
            reply = peer.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400") and b"application/json" in reply, reply[:300]
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "ok"}


def test_sigterm_lets_requests_in_flight_finish_then_stops_everything(front) -> None:
    server, base, token = front
    children = _children(server.pid)
    sockets = _sockets(server)
    assert len(children) >= 3  # nginx master (and its worker), two API processes
    body = b'{"full_name": "Le^Thi In Flight"}'
    head = f"POST /patients HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json"
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=30) as client:
        client.sendall(f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)  # while the request is half sent
        time.sleep(1.0)
        client.sendall(body[10:])
        assert status_of_one_response(client) == 201
    assert server.wait(timeout=60) == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not any(Path(path).parent.parent.exists() for path in sockets), "the run's private folder is removed"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=2)


def test_a_killed_nginx_master_leaves_no_worker_holding_the_port(front) -> None:
    server, base, _ = front
    master = next(pid for pid in _children(server.pid) if b"nginx" in Path(f"/proc/{pid}/cmdline").read_bytes())
    children = _children(server.pid)
    os.kill(master, signal.SIGKILL)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 1 and "nginx exited with signal SIGKILL" in err
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=2)


def test_a_worker_that_dies_ends_the_server_with_a_clear_error(front) -> None:
    server, base, _ = front
    children = _children(server.pid)
    os.kill(next(pid for pid in children if b"--uds" in Path(f"/proc/{pid}/cmdline").read_bytes()), signal.SIGKILL)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 1
    assert "API worker" in err and "exited" in err and "Traceback" not in err
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=2)


def test_a_port_already_taken_is_refused_at_once_in_one_line(sgm, settings) -> None:
    require_peer(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file(), "nginx is not installed")
    env = {**os.environ, "SGM_HOME": str(settings.home), "SGM_DATABASE_URL": settings.url}
    command = [sys.executable, "-c", "from sgm_app.cli import main; main()", "api", "serve", "--workers", "2"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = [*command, "--port", str(port)]
        ran = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 1 and ran.stdout == ""
    assert ran.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
