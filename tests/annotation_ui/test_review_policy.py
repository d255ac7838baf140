"""Task-level grants (senior review) and the prediction filter, pure: no servers."""

from __future__ import annotations

import pytest

from annotation_ui.access import Grants, Resolver, decide
from annotation_ui.prediction_filter import strip_predictions
from annotation_ui.schemes import READING, REVIEW, SCHEMES

FIRST, SENIOR = 10, 20  # the first reader's project, the senior's
TASKS = {101: FIRST, 102: FIRST, 201: SENIOR}
ANNOTATIONS = {1001: 101, 1002: 102}
RESOLVE = Resolver(TASKS.get, ANNOTATIONS.get, lambda d: None)
SENIOR_GRANTS = Grants("s@h.test", {FIRST: False, SENIOR: True}, only_tasks={FIRST: frozenset({101})})
READER_GRANTS = Grants("r@h.test", {FIRST: True}, read_only_tasks=frozenset({101}))


@pytest.mark.parametrize(
    ("grants", "method", "uri", "allow"),
    [
        (SENIOR_GRANTS, "GET", "/api/tasks/101", True),  # the first read under review
        (SENIOR_GRANTS, "GET", "/api/annotations/1001", True),
        (SENIOR_GRANTS, "GET", f"/projects/{FIRST}/data?task=101", True),
        (SENIOR_GRANTS, "GET", f"/api/projects/{FIRST}", True),  # the editor needs the project (labels)
        (SENIOR_GRANTS, "GET", "/api/tasks/102", False),  # not submitted yet
        (SENIOR_GRANTS, "GET", "/api/annotations/1002", False),
        (SENIOR_GRANTS, "GET", f"/projects/{FIRST}/data?task=101,102", False),
        # the Data Manager calls the editor makes; the gateway narrows the list to the tasks under review
        # (tests/annotation_ui/test_senior_review.py checks the list against a real Label Studio)
        (SENIOR_GRANTS, "GET", f"/api/tasks?project={FIRST}", True),
        (SENIOR_GRANTS, "GET", f"/api/dm/views?project={FIRST}", True),
        (SENIOR_GRANTS, "POST", f"/api/dm/views?project={FIRST}", False),  # look, never change
        (SENIOR_GRANTS, "GET", f"/projects/{FIRST}/data", False),
        (SENIOR_GRANTS, "POST", "/api/tasks/101/annotations", False),  # read-only
        (SENIOR_GRANTS, "GET", f"/api/tasks?project={SENIOR}", True),  # their own review queue
        (SENIOR_GRANTS, "POST", "/api/tasks/201/annotations", True),
        (READER_GRANTS, "GET", "/api/tasks/101", True),
        (READER_GRANTS, "PATCH", "/api/annotations/1001", False),  # under review: frozen
        (READER_GRANTS, "POST", "/api/tasks/101/annotations", False),
        (READER_GRANTS, "PATCH", "/api/annotations/1002", True),
        (READER_GRANTS, "GET", f"/api/tasks?project={FIRST}", True),
    ],
)
def test_task_level_grants(grants: Grants, method: str, uri: str, allow: bool) -> None:
    assert decide(grants, method, uri, RESOLVE).allow is allow, (method, uri)


def test_no_review_yet_closes_the_first_readers_project() -> None:
    grants = Grants("s@h.test", {FIRST: False, SENIOR: True}, only_tasks={FIRST: frozenset()})
    assert not decide(grants, "GET", f"/api/projects/{FIRST}", RESOLVE).allow


def test_scheme_table_for_review_and_predictions() -> None:
    senior = SCHEMES["senior_review"]
    assert senior.reviewed_only("senior", "reader_1", READING) and senior.reviewed_only("senior", "reader_1", REVIEW)
    assert not senior.reviewed_only("reader_1", "reader_1", READING)
    assert SCHEMES["ai_assisted"].shows_predictions == ("reader_1",)
    assert SCHEMES["blind_double_ai"].shows_predictions == ("adjudicator",)
    assert all(not SCHEMES[s].shows_predictions for s in ("single", "blind_double", "open_consensus", "senior_review"))


def test_predictions_are_stripped_outside_the_allowed_projects() -> None:
    task = {"id": 1, "project": 7, "predictions": [{"result": []}], "total_predictions": 1, "predictions_score": 0.5}
    assert strip_predictions(task, frozenset()) == {"id": 1, "project": 7}
    assert strip_predictions(task, frozenset({7})) == task
    page = {"total": 2, "tasks": [task, {**task, "project": 8}]}
    assert strip_predictions(page, frozenset({8}))["tasks"] == [{"id": 1, "project": 7}, {**task, "project": 8}]
    assert strip_predictions([{"predictions": [1]}], frozenset({7})) == [{}]  # no project: stripped
