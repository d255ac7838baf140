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


# rendered files -> the tasks that show them: 101 is the reader's own, 201 another reader's, 401 under review
FILES = {"1024/1.2.3.png": frozenset({101}), "1024/9.8.7.png": frozenset({201}), "1024/4.4.png": frozenset({401})}
IMAGES = Resolver({**TASKS, 401: OTHER}.get, ANNOTATIONS.get, lambda d: None, lambda d: FILES.get(d, frozenset()))
SENIOR = Grants("s@h.test", {OTHER: False}, only_tasks={OTHER: frozenset({401})})


@pytest.mark.parametrize(
    ("grants", "uri"),
    [
        (GRANTS, "/data/local-files/?d=1024/1.2.3.png"),
        (GRANTS, "/data/local-files/?d=1024%2F1.2.3.png"),  # the slash encoded once, as a browser may
        (GRANTS, "/data//local-files/?d=1024/1.2.3.png"),  # doubled slashes in the path merge, as Django sees
        (SENIOR, "/data/local-files/?d=1024/4.4.png"),  # the first read under review, and only it
    ],
)
def test_an_image_of_a_task_the_reader_may_open_passes(grants: Grants, uri: str) -> None:
    decision = decide(grants, "GET", uri, IMAGES)
    assert decision.allow and decision.opened_tasks == (), uri


@pytest.mark.parametrize(
    ("grants", "method", "uri"),
    [
        (GRANTS, "GET", "/data/local-files/?d=1024/9.8.7.png"),  # another reader's task
        (GRANTS, "GET", "/data/local-files/?d=1024/5.5.5.png"),  # no task shows it
        (SENIOR, "GET", "/data/local-files/?d=1024/9.8.7.png"),  # a first read not under review
        (GRANTS, "GET", "/data/local-files/"),  # no file named
        (GRANTS, "GET", "/data/local-files/?d="),
        (GRANTS, "GET", "/data/local-files/?d=1024/1.2.3.png&d=1024/9.8.7.png"),  # Django would serve the last
        (GRANTS, "GET", "/data/local-files/?d=1024/1.2.3.png/../9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=1024/x/..%2F9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=/1024/9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=../../etc/passwd"),
        (GRANTS, "GET", "/data/local-files/?d=1024//9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=1024/%252e%252e/9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=1024\\9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/?d=1024/1.2.3.png%00"),
        (GRANTS, "GET", "/data/local-files/?d=" + "a/" * 300 + "1.2.3.png"),
        (GRANTS, "POST", "/data/local-files/?d=1024/1.2.3.png"),
        # Label Studio finds "data/local-files/" anywhere in a path: never behind a public prefix
        (GRANTS, "GET", "/health/data/local-files/?d=1024/9.8.7.png"),
        (GRANTS, "GET", "/user/login/data/local-files/?d=1024/9.8.7.png"),
        (GRANTS, "GET", "/data/local-files/../../health/data/local-files/?d=1024/9.8.7.png"),
        (GRANTS, "GET", f"/projects/{OWN}/data/local-files/?d=1024/1.2.3.png"),
        (GRANTS, "GET", "/data/local%2Dfiles/x/?d=1024/9.8.7.png"),
    ],
)
def test_other_images_and_hostile_image_requests_are_refused(grants: Grants, method: str, uri: str) -> None:
    decision = decide(grants, method, uri, IMAGES)
    assert not decision.allow and decision.reason, (method, uri)


def test_a_reviewer_gets_the_data_manager_of_the_reviewed_project_only_once_a_read_is_under_review() -> None:
    """The task list itself is cut down to the reads under review by the gateway (test_senior_review.py)."""
    for uri in (
        f"/api/tasks?project={OTHER}&page=1&page_size=30&view=7",
        f"/api/dm/views?project={OTHER}",
        f"/api/dm/views/7?project={OTHER}",
        f"/api/dm/columns?project={OTHER}",
        f"/api/ml?project={OTHER}",
        f"/api/label_links?project={OTHER}&expand=label",
        f"/api/projects/{OTHER}/label-stream-history?project={OTHER}",
        f"/api/dm/actions?project={OTHER}",
        f"/projects/{OTHER}/data?tab=7&task=401",
    ):
        assert decide(SENIOR, "GET", uri, IMAGES).allow, uri
    nothing_yet = Grants("s@h.test", {OTHER: False}, only_tasks={OTHER: frozenset()})
    for grants, method, uri in (
        (nothing_yet, "GET", f"/api/tasks?project={OTHER}"),
        (nothing_yet, "GET", f"/api/dm/views?project={OTHER}"),
        (SENIOR, "POST", f"/api/dm/views?project={OTHER}"),
        (SENIOR, "PATCH", f"/api/dm/views/7?project={OTHER}"),
        (SENIOR, "GET", f"/projects/{OTHER}/data"),
        (SENIOR, "GET", f"/projects/{OTHER}/data?task=201"),
        (SENIOR, "GET", f"/api/tasks?project={OTHER}&task=201"),
        (SENIOR, "GET", f"/api/tasks?project={OTHER}&project={OWN}"),
        (SENIOR, "GET", f"/api/dm/views?project={OWN}"),
        (SENIOR, "GET", f"/api/projects/{OTHER}/export"),
    ):
        assert not decide(grants, method, uri, IMAGES).allow, (method, uri)
