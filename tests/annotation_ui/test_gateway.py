"""The reading gateway over HTTP: nginx in front of a real Label Studio, each reader with their own token."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, audit_count
from tests.annotation_ui.test_double_reading import provision
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv

REFUSED = "annotation.access_refused"
OPENED = "annotation.task_opened"


def _projects(factory: sessionmaker[Session], campaign_id: int) -> dict[str, int]:
    with session_scope(factory) as session:
        return {role: a.ls_project_id for role, a in assignments_of(session, campaign_id).items()}


def test_reader_sees_only_their_project_and_refusals_are_audited(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "gw-views")
    projects = _projects(session_factory, campaign_id)
    email = label_studio.readers["reader_1"].email
    r1 = gateway.as_token(label_studio.readers["reader_1"].token)
    listed = r1.get(f"{gateway.url}/api/projects", timeout=60).json()
    assert [p["id"] for p in listed["results"]] == [projects["reader_1"]] and listed["count"] == 1
    admin = gateway.as_token(label_studio.admin.token)
    assert {p["id"] for p in admin.get(f"{gateway.url}/api/projects", timeout=60).json()["results"]} >= set(
        projects.values()
    )
    refused = {
        "reader 2's project": ("GET", f"/api/projects/{projects['reader_2']}"),
        "reader 2's project page": ("GET", f"/projects/{projects['reader_2']}/data"),
        "adjudication before adjudication": ("GET", f"/api/projects/{projects['adjudicator']}"),
        "own project settings page": ("GET", f"/projects/{projects['reader_1']}/settings"),
        "own project settings change": ("PATCH", f"/api/projects/{projects['reader_1']}"),
        "project creation": ("POST", "/api/projects"),
        "invitation link": ("GET", "/api/invite"),
        "export": ("GET", f"/api/projects/{projects['reader_1']}/export?exportType=JSON"),
        "admin pages": ("GET", "/admin/"),
        "organization page": ("GET", "/organization/"),
        "reader 2's tasks listed": ("GET", f"/api/tasks?project={projects['reader_2']}"),
        "all tasks listed": ("GET", "/api/tasks"),
        "path traversal": ("GET", f"/api/projects/{projects['reader_1']}/../{projects['reader_2']}"),
    }
    for what, (method, path) in refused.items():
        response = r1.request(method, gateway.url + path, json={}, timeout=60, allow_redirects=False)
        assert response.status_code == 403, (what, response.status_code, response.text[:200])
        if path.startswith("/api/"):
            assert response.json()["detail"].startswith("Refused by the reading gateway"), what
        else:
            assert "not available to you" in response.text and "audit log" in response.text, what
    with session_scope(session_factory) as session:
        assert audit_count(session, REFUSED, email) == len(refused)
        alerts = session.scalars(select(AuditEvent).where(AuditEvent.event_type == REFUSED)).all()
        assert {a.event_id for a in alerts} == {"110113"} and all(a.outcome == 4 for a in alerts)
        assert any(a.detail["uri"] == f"/projects/{projects['reader_2']}/data" for a in alerts)
    # the administrator (our service account) passes everywhere
    assert admin.get(f"{gateway.url}/api/projects/{projects['reader_2']}", timeout=60).status_code == 200


def test_every_task_opened_is_audited_and_other_readers_tasks_are_refused(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "gw-tasks")
    gt = ground_truth(corpus)
    with session_scope(session_factory) as session:
        mine = reader_tasks(session, "reader_1", campaign_id, gt)[0]
        theirs = reader_tasks(session, "reader_2", campaign_id, gt)[0]
    r1 = gateway.as_token(label_studio.readers["reader_1"].token)
    opened = r1.get(f"{gateway.url}/api/tasks/{mine.ls_task_id}", timeout=60)
    assert opened.status_code == 200 and opened.json()["id"] == mine.ls_task_id
    assert r1.get(f"{gateway.url}/api/tasks/{theirs.ls_task_id}", timeout=60).status_code == 403
    # The labeling stream hands out the next task without naming it in the URL; it is audited all the same.
    own_project = _projects(session_factory, campaign_id)["reader_1"]
    streamed = r1.get(f"{gateway.url}/api/projects/{own_project}/next", timeout=60)
    assert streamed.status_code == 200, streamed.text
    streamed_id = streamed.json()["id"]
    other_read = label_studio.reader("reader_2").create_annotation(
        theirs.ls_task_id, read_result(theirs.gt, theirs.mappings)
    )
    for method, path in (("GET", f"/api/annotations/{other_read}"), ("PATCH", f"/api/annotations/{other_read}")):
        assert r1.request(method, gateway.url + path, json={"result": []}, timeout=60).status_code == 403
    # Going around nginx to the endpoint's forwarder (also on loopback) does not skip the decision.
    around = f"{gateway.endpoint}/_gateway/forward/api/tasks/{theirs.ls_task_id}/annotations"
    assert r1.post(around, json={"result": []}, timeout=60).status_code == 403
    with session_scope(session_factory) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == OPENED).order_by(AuditEvent.id)
        ).all()
        assert len(events) == 2 and events[1].detail["ls_task_id"] == streamed_id
        assert events[0].event_id == "110103" and events[0].instance_count == 2
        assert events[0].user_id == label_studio.readers["reader_1"].email
        assert events[0].detail["ls_task_id"] == mine.ls_task_id and events[0].study_uid == mine.gt.study_uid
        assert audit_count(session, REFUSED) == 4
