"""Form templates (issue point 3): no retrieval, no backtracking regex, bounded nesting, validation outside the lock."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from emr_core.db import session_scope
from emr_core.models_clinical import FormTemplate


@pytest.fixture
def listener():
    """A loopback TCP port that records whether anybody connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[bool] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(True)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


def _patient(api) -> int:
    return api.post("clinician", "/patients", json={"full_name": "Phạm Thu Hà", "birth_date": "1980-05-05"}).json()[
        "id"
    ]


def _publish(api, schema: dict[str, Any], name: str = "probe") -> Any:
    return api.post("admin", f"/form-templates/{name}", json={"json_schema": schema})


def _nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_external_references_are_refused_at_publishing_and_never_fetched(api, listener, scheme: str) -> None:
    port, hits = listener
    target = f"http://127.0.0.1:{port}/x.json" if scheme == "http" else "file:///etc/passwd"
    refused = _publish(api, {"type": "object", "properties": {"a": {"$ref": target}}})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "json_schema", refused.text
    assert "inside the template" in refused.json()["detail"]
    for sneaky in ({"$id": f"http://127.0.0.1:{port}/", "$ref": "#"}, {"$defs": {"x": {"$ref": target}}}):
        assert _publish(api, sneaky).status_code == 422
    assert hits == []


def test_a_stored_template_with_remote_references_still_fetches_nothing(api, session_factory, listener) -> None:
    port, hits = listener
    with session_scope(session_factory) as session:  # as if published before the check existed
        for name, target in (("legacy_http", f"http://127.0.0.1:{port}/x.json"), ("legacy_file", "file:///etc/passwd")):
            session.add(FormTemplate(name=name, version=1, title=name, json_schema={"$ref": target}, created_by="x"))
    pid = _patient(api)
    for name in ("legacy_http", "legacy_file"):
        started = time.monotonic()
        response = api.post("clinician", f"/patients/{pid}/forms/{name}", json={"data": {"a": 1}})
        assert response.status_code == 422, response.text
        assert time.monotonic() - started < 2 and "root:" not in response.text
    assert hits == []


def test_patterns_match_in_linear_time_and_backreferences_are_refused(api) -> None:
    published = _publish(api, {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}})
    assert published.status_code == 201, published.text
    pid = _patient(api)
    started = time.monotonic()
    evil = api.post("clinician", f"/patients/{pid}/forms/probe", json={"data": {"code": "a" * 28 + "!"}})
    assert evil.status_code == 422 and evil.json()["errors"][0]["field"] == "data.code"
    assert time.monotonic() - started < 1.0
    ok = api.post("clinician", f"/patients/{pid}/forms/probe", json={"data": {"code": "a" * 5000}})
    assert ok.status_code == 201
    for pattern in (r"^(a)\1$", r"^(?=a)a$"):
        refused = _publish(api, {"type": "string", "pattern": pattern}, "other")
        assert refused.status_code == 422 and "RE2" in refused.json()["detail"], refused.text
    assert _publish(api, {"type": "object", "patternProperties": {"(?<=x)y": {}}}, "other").status_code == 422


def test_nesting_and_self_reference_are_bounded(api) -> None:
    assert _publish(api, _nested(14)).status_code == 201  # 30 JSON levels: MariaDB stores at most 31
    deep = _publish(api, _nested(200))
    assert deep.status_code == 422 and "deeper" in deep.json()["detail"]
    loop = _publish(api, {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"})
    assert loop.status_code == 422 and "refers back" in loop.json()["detail"]
    tree = {"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}
    assert _publish(api, tree, "tree").status_code == 201  # recursion through data is fine: data depth is bounded
    pid = _patient(api)
    data: Any = []
    for _ in range(200):
        data = [data]
    too_deep = api.post("clinician", f"/patients/{pid}/forms/tree", json={"data": data})
    assert too_deep.status_code in (400, 422) and isinstance(too_deep.json()["detail"], str)
    assert api.post("clinician", f"/patients/{pid}/forms/tree", json={"data": [[[]]]}).status_code == 422  # not object
    forty: Any = []
    for _ in range(40):
        forty = [forty]
    bounded = api.post("clinician", f"/patients/{pid}/forms/probe", json={"data": {"a": forty}})
    assert bounded.status_code == 422 and "deeper than" in bounded.json()["detail"]
    assert _publish(api, _nested(15)).status_code == 422  # 32 levels: refused, not a database error


def test_validation_does_not_wait_for_the_write_lock(api) -> None:
    pid = _patient(api)
    state = api.client.app.state.api
    results: list[int] = []

    def invalid_submission() -> None:
        body = {"data": {"symptoms": "not an object"}}
        results.append(api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json=body).status_code)
        results.append(_publish(api, {"type": "bogus"}).status_code)

    with state.writer():  # another request's write transaction
        worker = threading.Thread(target=invalid_submission)
        worker.start()
        worker.join(timeout=10)
        finished_while_locked = not worker.is_alive()
    worker.join()
    assert finished_while_locked and results == [422, 422]
