"""Submissions through the gateway: a read that breaks the BI-RADS schema is refused at submit, with a message
naming the box and what it lacks; complete reads (with their cross-view link) pass and are consolidated."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.labeling_config import SAME_LESION, box_control
from emr_core.db import session_scope
from emr_core.models_annotation import CampaignTask, ConsolidatedFinding
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv, audit_count
from tests.annotation_ui.test_double_reading import provision
from tests.annotation_ui.test_gateway import OPENED, _projects
from tests.support.annotation_scenario import LsTask, ground_truth, read_result, reader_tasks, side_items
from tests.support.lsenv import LabelStudioEnv


def _bare_calcification(t: LsTask) -> dict:
    m = t.mappings["cc"]
    return {
        "id": "calc1",
        "from_name": box_control("cc"),
        "to_name": "cc",
        "type": "rectanglelabels",
        "original_width": m.png_width,
        "original_height": m.png_height,
        "image_rotation": 0,
        "value": {"x": 10.0, "y": 10.0, "width": 4.0, "height": 4.0, "rectanglelabels": ["calcification"]},
    }


def test_incomplete_box_is_refused_at_submit_and_a_complete_read_is_consolidated(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "gw-submit")
    projects, gt = _projects(session_factory, campaign_id), ground_truth(corpus)
    with session_scope(session_factory) as session:
        t1 = next(t for t in reader_tasks(session, "reader_1", campaign_id, gt) if len(t.gt.findings) == 1)
        t2 = next(
            t for t in reader_tasks(session, "reader_2", campaign_id, gt) if t.campaign_task_id == t1.campaign_task_id
        )
    r1 = gateway.as_token(label_studio.readers["reader_1"].token)
    submit = f"{gateway.url}/api/tasks/{t1.ls_task_id}/annotations?project={projects['reader_1']}"
    incomplete = [*side_items(t1.gt.composition, t1.gt.assessment), _bare_calcification(t1)]
    refused = r1.post(submit, json={"result": incomplete, "lead_time": 3.2}, timeout=60)
    assert refused.status_code == 400, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("This read cannot be submitted yet")
    assert "calcification (CC box calc1) without calc_morphology and calc_distribution" in detail
    assert "calcification (CC box calc1) needs one finding BI-RADS" in detail
    assert label_studio.admin.get(f"/api/tasks/{t1.ls_task_id}")["total_annotations"] == 0  # never reached LS
    # Hostile bodies are refused, not crashed on.
    for body in (b"not json", b"[1, 2]", b'{"result": "x"}', b'{"result": [1]}'):
        bad = r1.post(submit, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        assert bad.status_code == 400, (body, bad.status_code)
    complete = read_result(t1.gt, t1.mappings)
    assert any(item.get("type") == "relation" and item["labels"] == [SAME_LESION] for item in complete)
    created = r1.post(submit, json={"result": complete}, timeout=60)
    assert created.status_code == 201, created.text
    # A later edit that removes an attribute is refused too (PATCH of the annotation).
    broken = [i for i in complete if not i.get("from_name", "").endswith("_birads")]
    patched = r1.patch(f"{gateway.url}/api/annotations/{created.json()['id']}", json={"result": broken}, timeout=60)
    assert patched.status_code == 400 and "needs one finding BI-RADS" in patched.json()["detail"]
    r2 = gateway.as_token(label_studio.readers["reader_2"].token)
    done = r2.post(
        f"{gateway.url}/api/tasks/{t2.ls_task_id}/annotations",
        json={"result": read_result(t2.gt, t2.mappings)},
        timeout=60,
    )
    assert done.status_code == 201, done.text
    report = consolidate_campaign(session_factory, label_studio.admin, "gw-submit")
    assert report.revisions_rejected == 0 and report.violations_new == 0
    with session_scope(session_factory) as session:
        assert session.get(CampaignTask, t1.campaign_task_id).state == "concordant"
        findings = session.scalars(
            select(ConsolidatedFinding).where(ConsolidatedFinding.campaign_task_id == t1.campaign_task_id)
        ).all()
        assert len(findings) == 1 and findings[0].cc_instance_id and findings[0].mlo_instance_id
        assert audit_count(session, "annotation.access_refused", label_studio.readers["reader_1"].email) == 6
        assert audit_count(session, OPENED) == 0  # submissions are not task opens


def test_adjudicator_sees_the_adjudication_project_only_once_sides_are_queued(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "gw-adjudication")
    projects, gt = _projects(session_factory, campaign_id), ground_truth(corpus)
    adjudicator = gateway.as_token(label_studio.readers["adjudicator"].token)
    project_url = f"{gateway.url}/api/projects/{projects['adjudicator']}"
    assert adjudicator.get(project_url, timeout=60).status_code == 403
    with session_scope(session_factory) as session:
        t1 = reader_tasks(session, "reader_1", campaign_id, gt)[0]
        t2 = next(
            t for t in reader_tasks(session, "reader_2", campaign_id, gt) if t.campaign_task_id == t1.campaign_task_id
        )
    other = "a" if t1.gt.composition != "a" else "b"
    for role, task, result in (
        ("reader_1", t1, read_result(t1.gt, t1.mappings)),
        ("reader_2", t2, side_items(other, "1")),  # another composition, no finding: discordant
    ):
        client = gateway.as_token(label_studio.readers[role].token)
        response = client.post(
            f"{gateway.url}/api/tasks/{task.ls_task_id}/annotations", json={"result": result}, timeout=60
        )
        assert response.status_code == 201, response.text
    assert consolidate_campaign(session_factory, label_studio.admin, "gw-adjudication").queued_for_adjudication == 1
    assert adjudicator.get(project_url, timeout=60).status_code == 200
    tasks = adjudicator.get(f"{gateway.url}/api/tasks?project={projects['adjudicator']}", timeout=60)
    assert tasks.status_code == 200
    reader_1 = gateway.as_token(label_studio.readers["reader_1"].token)
    assert reader_1.get(project_url, timeout=60).status_code == 403  # still not for the blind readers
