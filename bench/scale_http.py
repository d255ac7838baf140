"""Patient search and chart latency over HTTP against a real `sgm api serve`, started as bench/api_load.py does."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from api_load import free_port, start_server
from api_search import queries
from scale_stages import Emr
from sqlalchemy import func, select

from emr_core.clinical.users import create_user, issue_token
from emr_core.db import session_scope
from emr_core.models import Patient, PatientIdentifier, Study


@dataclass(frozen=True)
class Latency:
    """Milliseconds of one kind of request: how many, median, p95, max; and how many found nothing."""

    count: int
    p50: float
    p95: float
    max: float
    empty: int = 0

    @classmethod
    def of(cls, samples: list[float], empty: int = 0) -> Latency:
        ordered = sorted(samples)
        pick = lambda q: round(ordered[int(q * (len(ordered) - 1))], 1)  # noqa: E731 - a percentile picker
        return cls(len(ordered), pick(0.5), pick(0.95), round(ordered[-1], 1), empty)


def sample_people(emr: Emr, count: int, seed: int = 3) -> list[dict[str, object]]:
    """Random patients with their name, birth date and one identifier, in api_search's shape."""
    with session_scope(emr.sessions) as session:
        top = session.scalar(select(func.max(Patient.id))) or 0
        picked = random.Random(seed).sample(range(1, top + 1), min(count, top))
        rows = session.execute(
            select(Patient.id, Patient.full_name, Patient.birth_date, func.min(PatientIdentifier.value))
            .join(PatientIdentifier, PatientIdentifier.patient_id == Patient.id)
            .where(Patient.id.in_(picked), Patient.birth_date.is_not(None))
            .group_by(Patient.id, Patient.full_name, Patient.birth_date)
        ).all()
    return [{"id": i, "full_name": n, "birth_date": b, "identifier": v} for i, n, b, v in rows]


def charted_patients(emr: Emr, count: int, seed: int = 4) -> list[int]:
    """Random patients that have at least one exam (their chart lists it)."""
    with session_scope(emr.sessions) as session:
        top = session.scalar(select(func.max(Study.id))) or 0
        picked = random.Random(seed).sample(range(1, top + 1), min(count, top))
        found = session.scalars(select(Study.patient_id).where(Study.id.in_(picked), Study.patient_id.is_not(None)))
        return sorted({pid for pid in found if pid is not None})


def bench_token(emr: Emr) -> str:
    with session_scope(emr.sessions) as session:
        return issue_token(session, create_user(session, f"scale{int(time.time())}", "clinician"))


@contextmanager
def api_server(emr: Emr) -> Iterator[httpx.Client]:
    """A real `sgm api serve` on a free loopback port, and a client signed in as a clinician."""
    port = free_port()
    server = start_server(Path(emr.settings.home), emr.settings.url, port, workers=1)
    try:
        headers = {"Authorization": f"Bearer {bench_token(emr)}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


def search_latency(
    client: httpx.Client, people: list[dict[str, object]], count: int
) -> tuple[Latency, dict[str, Latency]]:
    """api_search's mix of what clinicians type, one request at a time: all of them, and by kind."""
    client.get("/patients", params={"name": "warm up"})
    samples: dict[str, list[float]] = {}
    empty = 0
    for kind, params in queries(people, count):
        started = time.perf_counter()
        response = client.get("/patients", params=params)
        samples.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        empty += kind != "common words only" and response.json()["count"] == 0
    every = [ms for kind in samples.values() for ms in kind]
    return Latency.of(every, empty), {kind: Latency.of(ms) for kind, ms in samples.items()}


def chart_latency(client: httpx.Client, patient_ids: list[int], count: int) -> Latency:
    """The patient page (demographics, identifiers, exams with their reports, open tasks)."""
    rng, samples = random.Random(5), []
    for _ in range(count):
        started = time.perf_counter()
        client.get(f"/patients/{rng.choice(patient_ids)}").raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return Latency.of(samples)
