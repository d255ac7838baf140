"""`sgm api serve --workers N`: N one-process API servers on private unix sockets, nginx in front.

uvicorn's own workers share one listening socket, and whichever wakes first takes the waiting connections:
under 50 keep-alive clients one process was measured holding 46 of them while the other idled, so half the
machine served a tenth of the clients. nginx instead hands out each request to the process with the fewest
in flight (least_conn), over kept-alive upstream connections."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sgm_app import nginx

APP = "sgm_app.api.serve:app_from_environment"
START_SECONDS = 120.0  # a worker migrates nothing but checks the schema and installs templates first
UPLOAD_BODY = "0"  # no nginx limit: the API answers 413 itself, in JSON, before reading a body it refuses


@dataclass(frozen=True)
class FrontLayout:
    """Where nginx listens, how many API processes it fronts, and the private folder of this run."""

    # Everything of one run lives in a private folder (0700) outside the data folder: the data folder may
    # be shared by replicas (a Kubernetes volume), a unix socket path must stay under 108 bytes, and
    # nothing here outlives the run. nginx logs to standard error, beside the workers' own log lines.
    home: Path
    host: str
    port: int
    workers: int
    keep_alive: int

    @property
    def conf(self) -> Path:
        return self.home / "nginx.conf"

    def socket(self, worker: int) -> Path:
        return self.home / "run" / f"api-{worker}.sock"

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


TEMPLATE = """# Rendered by `sgm api serve --workers N`; edits are overwritten.
{user}worker_processes 1;
daemon off;
master_process on;
worker_shutdown_timeout 30s;  # a graceful stop (SIGQUIT) lets requests in flight finish, within this time
pid {home}/run/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  {temp_paths}
  server_tokens off;
  client_max_body_size {body};
  keepalive_timeout {keep_alive}s;
  upstream emr_api {{
    least_conn;
    {servers}
    keepalive 64;
  }}
  server {{
    listen {listen} backlog=4096;
    location / {{
      proxy_pass http://emr_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      # Replaced, never appended to: the API trusts this header from its socket, so a client cannot forge it.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Bodies stream through, so the API refuses an unauthenticated or oversized one before it is read.
      proxy_request_buffering off;
      proxy_read_timeout 300s;
      proxy_intercept_errors off;
    }}
    # nginx's own refusals answer in the API's JSON shape, like every other error. Declared here only, so
    # that every location inherits them (a location declaring any error_page inherits none). URIs, not
    # named locations: a request line that did not parse has no URI to carry over.
    error_page 400 414 494 505 =400 /_front/malformed;
    error_page 404 =404 /_front/missing;
    error_page 502 503 504 =503 /_front/unavailable;
    location = /_front/malformed {{
      internal;
      default_type application/json;
      return 400 '{{"detail": "malformed request", "errors": []}}';
    }}
    location = /_front/missing {{
      internal;
      default_type application/json;
      return 404 '{{"detail": "not found", "errors": []}}';
    }}
    location = /_front/unavailable {{
      internal;
      default_type application/json;
      return 503 '{{"detail": "the EMR API did not answer; try again shortly", "errors": []}}';
    }}
  }}
}}
"""


def render(layout: FrontLayout) -> str:
    # Run as root (a test or a bare host), nginx would hand its workers to `nobody`, who may not reach the
    # sockets in our private folder; the container image runs everything as its own non-root user.
    user = "user root;\n" if os.geteuid() == 0 else ""
    servers = "\n    ".join(f"server unix:{layout.socket(k)};" for k in range(layout.workers))
    return TEMPLATE.format(
        user=user,
        home=layout.home,
        temp_paths=nginx.temp_paths(layout.home),
        body=UPLOAD_BODY,
        keep_alive=layout.keep_alive,
        servers=servers,
        listen=layout.listen,
    )


def worker_command(layout: FrontLayout, worker: int) -> list[str]:
    """One single-process uvicorn on its socket; the client address comes from nginx's header."""
    return [
        *(sys.executable, "-m", "uvicorn", "--factory", APP, "--uds", str(layout.socket(worker))),
        *("--proxy-headers", "--forwarded-allow-ips", "*"),  # only nginx can open the socket (0700 folder)
        *("--timeout-keep-alive", str(layout.keep_alive), "--no-access-log", "--log-level", "info"),
    ]


@contextmanager
def private_folder() -> Iterator[Path]:
    """A folder only this user can enter (under TMPDIR), for one run's sockets and nginx files; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="sgm-api-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _start_workers(layout: FrontLayout) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(worker_command(layout, k), preexec_fn=nginx.end_with_parent)  # noqa: PLW1509 - prctl only
        for k in range(layout.workers)
    ]


def _wait_until(ready: Callable[[], bool], processes: list[subprocess.Popen[bytes]], what: str) -> None:
    """Poll `ready` until it holds; fails if one of the processes exits first or time runs out."""
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if any(p.poll() is not None for p in processes):
            raise nginx.NginxError(f"{what} exited during startup (its error is above)")
        if time.monotonic() > deadline:
            raise nginx.NginxError(f"{what} did not start within {START_SECONDS:.0f} s")
        time.sleep(0.1)


def _port_is_free(layout: FrontLayout) -> None:
    """Refuse at once a port another process listens on (nginx would retry for seconds, then give up)."""
    family = socket.AF_INET6 if ":" in layout.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as trial:
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: TIME_WAIT is no obstacle
        try:
            trial.bind((layout.host, layout.port))
        except OSError as exc:
            raise nginx.NginxError(f"cannot listen on {layout.listen}: {exc.strerror}") from None


def _accepts(layout: FrontLayout) -> bool:
    """Whether the port accepts a connection (nginx listens)."""
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(layout.host, layout.host)
    try:
        socket.create_connection((probe, layout.port), timeout=1).close()
    except OSError:
        return False
    return True


def _reap(process: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait for a process already asked to stop; kill it after `seconds`."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _end_orphans() -> None:
    """Stop what was handed to us as a subreaper: nginx workers whose master died (they would keep the port)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    for pid in {int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()}:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _stop(front: subprocess.Popen[bytes] | None, workers: list[subprocess.Popen[bytes]]) -> None:
    # nginx first and gracefully (SIGQUIT: requests in flight finish, within worker_shutdown_timeout), so no
    # request meets a worker already gone; then the workers, which finish theirs on SIGTERM.
    if front is not None:
        if front.poll() is None:
            front.send_signal(signal.SIGQUIT)
        _reap(front, 40)
    for worker in workers:  # all asked first, then waited for: they stop side by side
        if worker.poll() is None:
            worker.terminate()  # once: a second SIGTERM makes uvicorn drop its requests in flight
    for worker in workers:
        _reap(worker, 30)
    _end_orphans()


def _status(code: int | None) -> str:
    return f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"status {code}"


def serve(layout: FrontLayout, started: str) -> int:
    """Run the workers and nginx until SIGTERM/SIGINT (0) or until one of them exits (1)."""
    # A plain SIGTERM would end Python without running `finally`, leaving the children behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    nginx.become_subreaper()
    _port_is_free(layout)
    conf = nginx.write_config(layout.home, layout.conf, render(layout), error_log="stderr")
    workers, front = _start_workers(layout), None
    try:
        sockets = [layout.socket(k) for k in range(layout.workers)]
        _wait_until(lambda: all(path.exists() for path in sockets), workers, "an API worker")
        front = nginx.start_nginx(layout.home, conf, error_log="stderr")
        _wait_until(lambda: _accepts(layout), [front, *workers], "nginx or an API worker")
        print(started, flush=True)
        named = [("nginx", front), *((f"API worker {k}", w) for k, w in enumerate(workers))]
        while all(p.poll() is None for _, p in named):
            time.sleep(0.5)
        name, gone = next((n, p) for n, p in named if p.poll() is not None)
        print(f"error: {name} exited with {_status(gone.returncode)}; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(front, workers)
