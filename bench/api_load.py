"""50 concurrent clients reading patient pages from a real `sgm api serve` on loopback; bounded, stops by itself.

    python bench/api_load.py [--client wrk|httpx] [--clients 50] [--seconds 20] [--requests 40]
                             [--patients 5000] [--workers 1] [--database-url URL]

The server runs in its own process. The load comes from another process: `wrk` (Debian package `wrk`,
written in C, so the load generator steals little CPU from the server on a small machine) for a fixed
duration, or, without wrk, this Python process (httpx, asyncio) for a fixed number of requests per client.
Target (issue 5): no errors and a p95 under 300 ms for a patient page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from api_search import populate  # bench/ is on sys.path when this file runs as a script
from sqlalchemy import insert, select

from emr_core.clinical.users import create_user, issue_token
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.migrate import upgrade
from emr_core.models import Study
from emr_core.models_clinical import ExamReport

TARGET_P95_MS = 300.0
SERVER_START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, patients: int) -> tuple[list[int], str]:
    """Patients with two reported exams each, and a clinician's token."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    ids = [int(p["id"]) for p in populate(factory, patients)]
    with session_scope(factory) as session:
        rows = [
            {
                "study_uid": f"2.25.{pid}.{n}",
                "patient_id": pid,
                "accession_number": f"A{pid}{n}",
                "study_date": date(2023 + n, 3, 1) - timedelta(days=pid % 300),
                "description": "MG screening",
            }
            for pid in ids
            for n in (0, 1)
        ]
        session.execute(insert(Study), rows)
        study_ids = session.scalars(select(Study.id)).all()
        session.execute(
            insert(ExamReport),
            [{"study_id": sid, "assessment": random.choice("1123"), "reported_by": "dr.bench"} for sid in study_ids],
        )
        token = issue_token(session, create_user(session, "load-clinician", "clinician"))
    engine.dispose()
    return ids, token


def start_server(home: Path, url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SGM_HOME": str(home), "SGM_DATABASE_URL": url, "SGM_API_PORT": str(port)}
    command = [sys.executable, "-c", "from sgm_app.cli import main; main()", "api", "serve", "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the API server did not answer /health within 60 s")


async def _client(http: httpx.AsyncClient, ids: list[int], count: int, seed: int) -> tuple[list[float], int]:
    rng, latencies, errors = random.Random(seed), [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            response = await http.get(f"/patients/{rng.choice(ids)}")
            errors += response.status_code != 200
        except httpx.HTTPError:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, errors


async def load(port: int, token: str, ids: list[int], clients: int, requests: int) -> tuple[list[float], int, float]:
    """`clients` concurrent connections, `requests` patient pages each; returns latencies, errors, seconds."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as http:
        await _client(http, ids, 20, seed=-1)  # warm up
        started = time.perf_counter()
        results = await asyncio.gather(*(_client(http, ids, requests, seed) for seed in range(clients)))
        elapsed = time.perf_counter() - started
    return [ms for lat, _ in results for ms in lat], sum(e for _, e in results), elapsed


# Lua: wrk's own summary of a run, on one line this module parses.
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.1f %.1f %.1f %.1f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""
WRK_SCRIPT = """
local ids = {%(ids)s}
wrk.headers["Authorization"] = "Bearer %(token)s"
math.randomseed(7)
request = function()
  return wrk.format("GET", "/patients/" .. ids[math.random(#ids)])
end
"""


def wrk_result(lua: str, script: Path, port: int, clients: int, seconds: int) -> dict[str, float]:
    """Run wrk with this Lua (WRK_DONE appended, written to `script`) for `seconds` with `clients` connections."""
    script.write_text(lua + WRK_DONE)
    command = ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    fields = next(line for line in output.splitlines() if line.startswith("RESULT")).split()[1:]
    names = ("requests", "errors", "seconds", "p50", "p95", "p99", "max")
    return dict(zip(names, map(float, fields), strict=True))


def wrk_load(port: int, token: str, ids: list[int], clients: int, seconds: int, folder: Path) -> dict[str, float]:
    """Run wrk for `seconds` with `clients` connections; returns its counts and latency percentiles (ms)."""
    lua = WRK_SCRIPT % {"ids": ",".join(map(str, ids)), "token": token}
    return wrk_result(lua, folder / "patient_pages.lua", port, clients, seconds)


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies (ms); zeros when there are none."""
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    pick = lambda q: ordered[int(q * (len(ordered) - 1))]  # noqa: E731 - a one-line percentile picker
    return {"p50": statistics.median(ordered), "p95": pick(0.95), "p99": pick(0.99), "max": ordered[-1]}


def httpx_load(port: int, token: str, ids: list[int], clients: int, requests: int) -> dict[str, float]:
    """The same measurement from this Python process, when wrk is not installed."""
    latencies, errors, seconds = asyncio.run(load(port, token, ids, clients, requests))
    return {"requests": len(latencies), "errors": errors, "seconds": seconds, **percentiles(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20, help="duration of a wrk run")
    parser.add_argument("--requests", type=int, default=40, help="patient pages per client (httpx)")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--database-url", help="an EMPTY database to fill (default: SQLite in a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sgm-bench-load-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'emr.db'}"
        ids, token = prepare(url, args.patients)
        port = free_port()
        server = start_server(Path(tmp), url, port, args.workers)
        try:
            if args.client == "wrk":
                result = wrk_load(port, token, ids, args.clients, args.seconds, Path(tmp))
            else:
                result = httpx_load(port, token, ids, args.clients, args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{result['requests']:.0f} patient pages from {args.client}, {args.clients} concurrent clients, "
        f"{args.workers} server process(es), {url.split(':')[0]}: {result['requests'] / result['seconds']:.0f} req/s, "
        f"errors {result['errors']:.0f}"
    )
    print("latency " + "  ".join(f"{k} {result[k]:.1f} ms" for k in ("p50", "p95", "p99", "max")))
    ok = result["errors"] == 0 and result["p95"] < TARGET_P95_MS
    print(f"{'meets' if ok else 'MISSES'} the target: no errors and p95 under {TARGET_P95_MS:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
