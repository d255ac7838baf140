"""The gateway's pure access policy, without servers: assignments, schemes, and hostile URLs."""

from __future__ import annotations

import pytest

from annotation_ui.access import Grants, Resolver, decide, normal_path
from annotation_ui.schemes import SCHEMES, SchemeError, check_phase, scheme_named

OWN, OTHER, READ_ONLY = 10, 20, 30
TASKS = {101: OWN, 201: OTHER, 301: READ_ONLY}
ANNOTATIONS = {1001: 101, 2001: 201}
GRANTS = Grants("r1@h.test", {OWN: True, READ_ONLY: False})
RESOLVE = Resolver(TASKS.get, ANNOTATIONS.get, lambda d: None)


def allowed(method: str, uri: str) -> bool:
    return decide(GRANTS, method, uri, RESOLVE).allow


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        ("GET", "/projects/"),
        ("GET", f"/projects/{OWN}/data?tab=1&task=101"),
        ("GET", f"/api/projects/{OWN}"),
        ("GET", f"/api/projects/{OWN}/next"),
        ("GET", "/api/tasks/101"),
        ("POST", "/api/tasks/101/annotations"),
        ("PATCH", "/api/annotations/1001"),
        ("GET", f"/api/tasks?project={OWN}&page=1"),
        ("GET", f"/api/dm/views?project={OWN}"),
        ("GET", "/api/tasks/301"),
        ("GET", "/static/js/main.js"),
        ("GET", "/user/login/"),
        ("GET", "/api/current-user/whoami"),
    ],
)
def test_own_work_is_allowed(method: str, uri: str) -> None:
    assert allowed(method, uri), (method, uri)


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        ("GET", f"/projects/{OTHER}/data"),
        ("GET", f"/api/projects/{OTHER}"),
        ("GET", "/api/tasks/201"),
        ("GET", "/api/tasks/999"),  # a task the platform does not know
        ("GET", "/api/annotations/2001"),
        ("GET", "/api/annotations/5555"),  # unknown annotation
        ("PATCH", "/api/annotations/2001"),
        ("POST", "/api/tasks/301/annotations"),  # read-only project
        ("GET", f"/projects/{OWN}/settings"),
        ("GET", f"/projects/{OWN}/settings/danger"),
        ("PATCH", f"/api/projects/{OWN}"),
        ("DELETE", f"/api/projects/{OWN}"),
        ("POST", "/api/projects"),
        ("POST", "/api/projects/"),
        ("GET", f"/api/projects/{OWN}/export?exportType=JSON"),
        ("POST", f"/api/projects/{OWN}/exports"),
        ("POST", f"/api/projects/{OWN}/import"),
        ("GET", "/api/invite"),
        ("GET", "/organization/"),
        ("GET", "/people/"),
        ("GET", "/admin/"),
        ("GET", "/api/storages/localfiles"),
        ("POST", f"/api/dm/actions?project={OWN}&id=delete_tasks"),
        ("DELETE", "/api/annotations/1001"),
        ("GET", "/api/tasks"),
        ("GET", "/api/dm/views"),
        ("GET", f"/api/tasks?project={OWN}&project={OTHER}"),
        ("GET", f"/api/projects/counts?ids={OWN},{OTHER}"),
        ("GET", f"/api/tasks?project={OWN},x"),
        # hostile spellings of another reader's project
        ("GET", f"/api/projects/%3{str(OTHER)[0]}{str(OTHER)[1:]}"),
        ("GET", f"//api/projects/{OTHER}"),
        ("GET", f"/api/projects/{OWN}/../{OTHER}"),
        ("GET", f"/api/projects/{OWN}/%2e%2e/{OTHER}"),
        ("GET", f"/api/projects/%2525{OTHER}"),
        ("GET", f"/static/../api/projects/{OTHER}"),
        ("GET", f"/api\\projects\\{OTHER}"),
        ("get", f"/API/projects/{OTHER}/settings".lower()),
    ],
)
def test_everything_else_is_refused(method: str, uri: str) -> None:
    decision = decide(GRANTS, method, uri, RESOLVE)
    assert not decision.allow and decision.reason, (method, uri)


def test_task_opens_are_reported_for_audit() -> None:
    assert decide(GRANTS, "GET", "/api/tasks/101?project=10", RESOLVE).opened_tasks == (101,)
    assert decide(GRANTS, "GET", f"/projects/{OWN}/data?task=101", RESOLVE).opened_tasks == (101,)
    assert decide(GRANTS, "POST", "/api/tasks/101/annotations", RESOLVE).opened_tasks == ()


def test_normal_path() -> None:
    assert normal_path("/a//b/../c/") == "/a/c/"
    assert normal_path("/api/projects/%31") == "/api/projects/1"
    assert normal_path("/") == "/"


def test_schemes_declare_every_role_and_reject_unknown_names() -> None:
    for scheme in SCHEMES.values():
        assert {s.viewer for s in scheme.sights} <= set(scheme.roles)
        assert {s.owner for s in scheme.sights} <= set(scheme.roles)
    with pytest.raises(SchemeError, match="choose one of"):
        scheme_named("everyone_sees_everything")
    with pytest.raises(SchemeError):
        check_phase("whenever")
