"""Rendered images (`/data/local-files/?d=`) through the reading gateway: a reader fetches only the images of the
tasks they may open now, under their campaign's scheme and phase; hostile spellings are refused and audited."""

from __future__ import annotations

import http.client
import statistics
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of, provision_campaign
from emr_core.db import session_scope
from emr_core.models import AuditEvent, Study
from emr_core.models_annotation import LabelStudioTask
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, audit_count
from tests.annotation_ui.test_double_reading import provision
from tests.annotation_ui.test_gateway import REFUSED
from tests.annotation_ui.test_gateway_schemes import _queue_one
from tests.support.lsenv import LabelStudioEnv

IMAGE = "/data/local-files/?d="


def _documents(env: LabelStudioEnv, ls_task_id: int) -> list[str]:
    """The two image paths a task shows, as Label Studio stores them (the `d` of its URLs)."""
    data = env.admin.task_data(ls_task_id)
    return [str(data[view]).removeprefix(IMAGE) for view in ("cc", "mlo")]


def _first_task(factory: sessionmaker[Session], campaign_id: int, role: str) -> int:
    with session_scope(factory) as session:
        assignment = assignments_of(session, campaign_id)[role]
        first = session.scalar(
            select(LabelStudioTask.ls_task_id)
            .where(LabelStudioTask.assignment_id == assignment.id)
            .order_by(LabelStudioTask.position)
        )
    assert first is not None
    return int(first)


def _raw_get(url: str, target: str, token: str) -> int:
    """GET with the request target sent byte for byte (no client-side normalisation of dots or encodings)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Token {token}")
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def _other_campaign(env: LabelStudioEnv, factory: sessionmaker[Session], settings: Settings) -> int:
    """A second campaign, read by reader 2 alone, whose images are rendered at another size (other files)."""
    with session_scope(factory) as session:
        studies = list(session.scalars(select(Study.id).order_by(Study.id)))[:2]
    report = provision_campaign(
        factory, settings, env.admin, "img-other", studies, [env.readers["reader_2"].email], scheme="single",
        long_side=700,
    )  # fmt: skip
    return report.campaign_id


def test_a_reader_fetches_only_the_images_of_their_tasks(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "img-main")
    other_id = _other_campaign(label_studio, session_factory, ls_settings)
    own = _documents(label_studio, _first_task(session_factory, campaign_id, "reader_1"))
    foreign = _documents(label_studio, _first_task(session_factory, other_id, "reader_1"))
    r1 = gateway.as_token(label_studio.readers["reader_1"].token)
    r2 = gateway.as_token(label_studio.readers["reader_2"].token)
    for document in own:
        fetched = r1.get(gateway.url + IMAGE + document, timeout=60)
        assert fetched.status_code == 200 and fetched.content[:8] == b"\x89PNG\r\n\x1a\n", document
    assert r2.get(gateway.url + IMAGE + foreign[0], timeout=60).status_code == 200  # their own other campaign
    refused = r1.get(gateway.url + IMAGE + foreign[0], timeout=60)
    assert refused.status_code == 403 and "Not an image of your tasks" in refused.text
    admin = gateway.as_token(label_studio.admin.token)
    assert admin.get(gateway.url + IMAGE + foreign[0], timeout=60).status_code == 200  # as before
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, label_studio.readers["reader_1"].email) == 1
        event = session.scalars(select(AuditEvent).where(AuditEvent.event_type == REFUSED)).one()
        assert event.detail["uri"] == IMAGE + foreign[0] and event.detail["reason"] == "not an image of your tasks"


def test_the_adjudicator_sees_images_only_once_a_side_is_queued(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    """The phase moves while the gateway runs: its cached answers must follow at once."""
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "img-phase")
    adjudicator = gateway.as_token(label_studio.readers["adjudicator"].token)
    image = gateway.url + IMAGE + _documents(label_studio, _first_task(session_factory, campaign_id, "reader_1"))[0]
    assert adjudicator.get(image, timeout=60).status_code == 403  # reading phase: blind to everything
    _queue_one(session_factory, label_studio, campaign_id)  # the first side is queued for adjudication
    assert adjudicator.get(image, timeout=60).status_code == 200
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, label_studio.readers["adjudicator"].email) == 1


def _hostile(own: str, foreign: str) -> dict[str, str]:
    """Request targets that try to reach `foreign` (or anything) with reader 1's token."""
    size, name = foreign.split("/")
    own_size = own.partition("/")[0]
    return {
        "no d": "/data/local-files/",
        "empty d": IMAGE,
        "two d": f"{IMAGE}{own}&d={foreign}",
        "dot dot in d": f"{IMAGE}{own_size}/../{foreign}",
        "encoded dot dot": f"{IMAGE}{own_size}/%2e%2e/{foreign}",
        "encoded twice": f"{IMAGE}{own_size}/%252e%252e/{foreign}",
        "leading slash": f"{IMAGE}/{foreign}",
        "doubled slash": f"{IMAGE}{size}//{name}",
        "encoded key": f"/data/local-files/?%64={quote(foreign, safe='')}",
        "backslash": f"{IMAGE}{size}%5C{name}",
        "nul": f"{IMAGE}{foreign}%00",
        "traversal out of the root": f"{IMAGE}../../../../etc/passwd",
        "long d": IMAGE + "a/" * 1500 + foreign,
        "behind a public prefix": f"/health/data/local-files/?d={foreign}",
        "dot segments in the path": f"/data/local-files/../../health/data/local-files/?d={foreign}",
        "inside a project path": f"/projects/1/data/local-files/?d={foreign}",
    }


def test_hostile_image_requests_are_refused_and_the_gateway_keeps_serving(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "img-hostile")
    other_id = _other_campaign(label_studio, session_factory, ls_settings)
    own = _documents(label_studio, _first_task(session_factory, campaign_id, "reader_1"))[0]
    foreign = _documents(label_studio, _first_task(session_factory, other_id, "reader_1"))[0]
    token = label_studio.readers["reader_1"].token
    hostile = _hostile(own, foreign)
    for what, target in hostile.items():
        assert _raw_get(gateway.url, target, token) == 403, (what, target)
    # far longer than any header buffer: nginx answers itself, before any decision
    assert _raw_get(gateway.url, IMAGE + "a" * 100_000, token) in (400, 414)
    assert requests.get(f"{gateway.url}/_gateway/health", timeout=60).status_code == 200
    assert _raw_get(gateway.url, IMAGE + own, token) == 200  # still serving the reader's own images
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, label_studio.readers["reader_1"].email) == len(hostile)


def _timings_ms(http: requests.Session, urls: list[str], runs: int) -> list[list[float]]:
    """Per URL, the time of each of `runs` GETs; the URLs take turns so that the machine's load hits all alike."""
    timings: list[list[float]] = [[] for _ in urls]
    for _ in range(runs):
        for url, times in zip(urls, timings, strict=True):
            start = time.perf_counter()
            assert http.get(url, timeout=60).status_code == 200, url
            times.append((time.perf_counter() - start) * 1000)
    return timings


def _figures(times: list[float]) -> str:
    return f"median {statistics.median(times):.1f} ms, p90 {statistics.quantiles(times, n=10)[-1]:.1f} ms"


def test_the_added_latency_per_image_is_small(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    """Each image request asks the access endpoint: measured against Label Studio itself (printed with -s)."""
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "img-bench")
    document = _documents(label_studio, _first_task(session_factory, campaign_id, "reader_1"))[0]
    reader = gateway.as_token(label_studio.readers["reader_1"].token)
    through, direct = f"{gateway.url}{IMAGE}{document}", f"{label_studio.server.url}{IMAGE}{document}"
    start = time.perf_counter()
    assert reader.get(through, timeout=60).status_code == 200
    cold = (time.perf_counter() - start) * 1000  # identity, reading state, grants and the file's tasks looked up
    behind, alone = _timings_ms(reader, [through, direct], 60)
    added = statistics.median(behind) - statistics.median(alone)
    print(
        f"\nimage through the gateway: {_figures(behind)}; Label Studio alone: {_figures(alone)}; "
        f"added {added:.1f} ms per image (first request, nothing cached: {cold:.1f} ms)"
    )
    assert added < 250  # a loaded 2-core machine shared with others: a generous bound
