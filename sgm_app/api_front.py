"""`sgm api serve --workers N`: N one-process API servers on private unix sockets, nginx in front.

uvicorn's own workers share one listening socket, and whichever wakes first takes the waiting connections:
under 50 keep-alive clients one process was measured holding 46 of them while the other idled, so half the
machine served a tenth of the clients. nginx instead hands out each request to the process with the fewest
in flight (least_conn), over kept-alive upstream connections."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
      error_page 502 503 504 = @unavailable;
    }}
    # nginx's own refusals answer in the API's JSON shape, like every other error.
    # (A URI, not a named location: a request line that did not parse has no URI to carry over.)
    error_page 400 414 494 =400 /_front/malformed;
    location = /_front/malformed {{
      internal;
      default_type application/json;
      return 400 '{{"detail": "malformed request", "errors": []}}';
    }}
    location @unavailable {{
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


def _wait_until_listening(layout: FrontLayout, workers: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker has bound its socket (uvicorn binds after its startup); fails if one exits."""
    deadline = time.monotonic() + START_SECONDS
    while not all(layout.socket(k).exists() for k in range(layout.workers)):
        if any(w.poll() is not None for w in workers):
            raise nginx.NginxError("an API worker exited during startup (its error is above)")
        if time.monotonic() > deadline:
            raise nginx.NginxError(f"the API workers did not start within {START_SECONDS:.0f} s")
        time.sleep(0.1)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(layout: FrontLayout, started: str) -> int:
    """Run the workers and nginx until SIGTERM/SIGINT (0) or until one of them exits (1)."""
    # A plain SIGTERM would end Python without running `finally`, leaving the children behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conf = nginx.write_config(layout.home, layout.conf, render(layout), error_log="stderr")
    processes = _start_workers(layout)
    names = [f"API worker {k}" for k in range(layout.workers)]
    try:
        _wait_until_listening(layout, processes)
        # First in the list, so stopped first: no request arrives for a worker already gone.
        processes.insert(0, nginx.start_nginx(layout.home, conf, error_log="stderr"))
        names.insert(0, "nginx")
        print(started, flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        name, gone = next((n, p) for n, p in zip(names, processes, strict=True) if p.poll() is not None)
        print(f"error: {name} exited with status {gone.returncode}; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)
