"""Senior review task by task through the gateway: a side enters review when its first read is submitted; the
senior then sees that first read and only it, and the first reader can no longer change it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of
from annotation_ui.review import queue_reviews
from emr_core.db import session_scope
from emr_core.models_annotation import AnnotationCampaign, LabelStudioTask
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, audit_count
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv


def _review_tasks(factory: sessionmaker[Session], campaign_id: int) -> list[tuple[int, int]]:
    """(campaign task, senior's Label Studio task) of the sides under review."""
    with session_scope(factory) as session:
        senior = assignments_of(session, campaign_id)["senior"]
        rows = session.execute(
            select(LabelStudioTask.campaign_task_id, LabelStudioTask.ls_task_id).where(
                LabelStudioTask.assignment_id == senior.id
            )
        )
        return [(int(c), int(t)) for c, t in rows]


def test_a_side_enters_review_when_its_first_read_is_submitted(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "senior", "senior_review")
    with session_scope(session_factory) as session:
        first, second, *_ = reader_tasks(session, "reader_1", campaign_id, ground_truth(corpus))
        projects = {a.role: a.ls_project_id for a in assignments_of(session, campaign_id).values()}
    reader = gateway.as_token(label_studio.readers["reader_1"].token)
    senior = gateway.as_token(label_studio.readers["reader_2"].token)
    url = gateway.url

    # before any read: the senior's project is empty and the first reader's tasks are closed to them
    assert senior.get(f"{url}/api/tasks/{first.ls_task_id}", timeout=60).status_code == 403
    assert senior.get(f"{url}/api/projects/{projects['reader_1']}", timeout=60).status_code == 403
    assert _review_tasks(session_factory, campaign_id) == []

    submitted = reader.post(
        f"{url}/api/tasks/{first.ls_task_id}/annotations?project={projects['reader_1']}",
        json={"result": read_result(first.gt, first.mappings), "lead_time": 5.0},
        timeout=60,
    )
    assert submitted.status_code == 201, submitted.text
    [(side, review_task)] = _review_tasks(session_factory, campaign_id)  # entered review at once, alone
    assert side == first.campaign_task_id

    # the senior sees that first read, and only it
    shown = senior.get(f"{url}/api/tasks/{first.ls_task_id}", timeout=60)
    assert shown.status_code == 200
    assert [a["id"] for a in shown.json()["annotations"]] == [submitted.json()["id"]]
    assert senior.get(f"{url}/api/tasks/{second.ls_task_id}", timeout=60).status_code == 403
    assert senior.get(f"{url}/projects/{projects['reader_1']}/data", timeout=60).status_code == 403
    # the Data Manager's task list of the first reader's project holds the read under review alone, whatever
    # view or selection the request names (the browser's way in: test_senior_review_browser.py)
    r1 = projects["reader_1"]
    for query in (f"project={r1}", f"project={r1}&view=1", f"project=%20{r1}", f"project={r1}&project={r1}"):
        listed = senior.get(f"{url}/api/tasks?{query}&query=%7B%7D", json={"view": 1}, timeout=60)
        assert listed.status_code == 200 and [t["id"] for t in listed.json()["tasks"]] == [first.ls_task_id], query
        assert listed.json()["total"] == 1
    # the images of the read under review, and of no other side
    image = {t.ls_task_id: label_studio.admin.task_data(t.ls_task_id)["cc"] for t in (first, second)}
    assert senior.get(f"{url}{image[first.ls_task_id]}", timeout=60).status_code == 200
    assert senior.get(f"{url}{image[second.ls_task_id]}", timeout=60).status_code == 403
    assert senior.get(f"{url}/api/tasks/{review_task}", timeout=60).status_code == 200  # their own review task
    own_list = senior.get(f"{url}/api/tasks?project={projects['senior']}", timeout=60)
    assert own_list.status_code == 200 and [t["id"] for t in own_list.json()["tasks"]] == [review_task]
    assert (
        senior.post(f"{url}/api/tasks/{first.ls_task_id}/annotations", json={"result": []}, timeout=60).status_code
        == 403
    )  # the first read is not the senior's to change

    # the first reader can no longer change the read under review, and still reads the other sides
    changed = reader.patch(f"{url}/api/annotations/{submitted.json()['id']}", json={"result": []}, timeout=60)
    assert changed.status_code == 403 and "under senior review" in changed.json()["detail"]
    assert (
        reader.post(f"{url}/api/tasks/{second.ls_task_id}/annotations", json={"result": []}, timeout=60).status_code
        == 400
    )  # passed the gateway (refused by validation: an empty read)

    # the queue is idempotent, also when asked again outside the gateway
    with session_scope(session_factory) as session:
        campaign = session.get_one(AnnotationCampaign, campaign_id)
        assert queue_reviews(session, label_studio.admin, campaign) == 0
    assert len(_review_tasks(session_factory, campaign_id)) == 1
    with session_scope(session_factory) as session:
        assert audit_count(session, "annotation.access_refused", label_studio.readers["reader_2"].email) >= 5
