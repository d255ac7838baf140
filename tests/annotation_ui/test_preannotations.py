"""AI pre-annotations against a real Label Studio, seen by the readers through the gateway: an AI-assisted reader
gets the model's boxes (filterable by model version); a blind reader never does, even when predictions exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import assignments_of
from annotation_ui.labeling_config import box_control
from annotation_ui.preannotations import PreannotationError, prediction_result, push_predictions, stored_box_list
from annotation_ui.prediction_filter import PREDICTION_FIELDS
from annotation_ui.reads import box_to_percent
from emr_core.db import session_scope
from emr_core.dicom.render import mapping_for
from emr_core.models import Instance
from emr_core.models_annotation import CampaignTask, LabelStudioTask
from emr_core.models_ml import ModelPrediction, StudyInference
from emr_core.settings import Settings
from tests.annotation_ui.gatewayenv import GatewayEnv
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.support.lsenv import LabelStudioEnv

BOX: dict[str, Any] = {"x_min": 400.0, "y_min": 600.0, "x_max": 900.0, "y_max": 1300.0, "score": 0.8, "label": "mass"}
TAG = "baseline:3"


def store_predictions(
    factory: sessionmaker[Session], campaign_id: int, model: tuple[str, str] = ("baseline", "3")
) -> dict[int, dict[str, float]]:
    """One stored model version (baseline 3) on the campaign's studies, one box per image; returns the box each
    image should show in Label Studio (percent), by instance id."""
    expected = {}
    with session_scope(factory) as session:
        tasks = session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == campaign_id)).all()
        runs = {}
        for study in sorted({t.study_id for t in tasks}):
            runs[study] = StudyInference(
                study_id=study, model_name=model[0], model_version=model[1], input_sha256="0" * 64, exam_score=0.7
            )
            session.add(runs[study])
        session.flush()
        for task in tasks:
            for instance_id in (task.cc_instance_id, task.mlo_instance_id):
                image = session.get_one(Instance, instance_id)
                box = (float(BOX["x_min"]), float(BOX["y_min"]), float(BOX["x_max"]), float(BOX["y_max"]))
                mapping = mapping_for(int(image.columns or 0), int(image.rows or 0), 1024)
                expected[instance_id] = box_to_percent(box, mapping)
                session.add(
                    ModelPrediction(
                        study_inference_id=runs[task.study_id].id,
                        instance_id=instance_id,
                        input_sha256="1" * 64,
                        boxes=[BOX],
                        image_score=0.6,
                    )
                )
    return expected


def _role_tasks(factory: sessionmaker[Session], campaign_id: int, role: str) -> tuple[int, dict[int, CampaignTask]]:
    """(project id, Label Studio task id -> campaign task) of one role."""
    with session_scope(factory) as session:
        assignment = assignments_of(session, campaign_id)[role]
        rows = session.execute(
            select(LabelStudioTask.ls_task_id, CampaignTask)
            .join(CampaignTask, CampaignTask.id == LabelStudioTask.campaign_task_id)
            .where(LabelStudioTask.assignment_id == assignment.id)
        )
        return assignment.ls_project_id, {int(t): c for t, c in rows}


def _dm_query(version: str) -> str:
    item = {"filter": "filter:tasks:predictions_model_versions", "operator": "contains", "type": "List"}
    return json.dumps({"filters": {"conjunction": "and", "items": [{**item, "value": [version]}]}})


def _has_predictions(payload: Any) -> bool:
    tasks = payload.get("tasks", [payload]) if isinstance(payload, dict) else payload
    return any(PREDICTION_FIELDS & set(t) for t in tasks)


def test_ai_assisted_reader_sees_the_models_boxes(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "ai", "ai_assisted")
    expected = store_predictions(session_factory, campaign_id)
    with session_scope(session_factory) as session:
        report = push_predictions(session, label_studio.admin, "ai", "baseline", "3")
    assert (report.model_version, report.created, report.already_there, report.without_inference) == (TAG, 16, 0, 0)
    with session_scope(session_factory) as session:
        again = push_predictions(session, label_studio.admin, "ai", "baseline", "3")
    assert (again.created, again.already_there) == (0, 16)  # idempotent
    project, tasks = _role_tasks(session_factory, campaign_id, "reader_1")
    settings = label_studio.admin.get(f"/api/projects/{project}")
    assert (settings["show_collab_predictions"], settings["model_version"]) == (True, TAG)
    assert settings["total_predictions_number"] == 16

    reader = gateway.as_token(label_studio.readers["reader_1"].token)
    ls_task, side = next(iter(sorted(tasks.items())))
    shown = reader.get(f"{gateway.url}/api/tasks/{ls_task}?project={project}", timeout=60).json()
    [prediction] = shown["predictions"]
    assert prediction["model_version"] == TAG
    boxes = {r["to_name"]: r for r in prediction["result"]}
    assert set(boxes) == {"cc", "mlo"}
    for view, instance_id in (("cc", side.cc_instance_id), ("mlo", side.mlo_instance_id)):
        value = boxes[view]["value"]
        assert value["rectanglelabels"] == ["mass"]
        assert value["x"] == pytest.approx(expected[instance_id]["x"])
        assert value["height"] == pytest.approx(expected[instance_id]["height"])
    assert reader.get(f"{gateway.url}/api/projects/{project}/next", timeout=60).json()["predictions"]

    for http, base in ((reader, gateway.url), (label_studio.admin._http, label_studio.admin.url)):
        for version, total in ((TAG, 16), ("other:1", 0)):
            query = {"project": str(project), "query": _dm_query(version)}
            found = http.get(f"{base}/api/tasks", params=query, timeout=60)
            assert found.status_code == 200, found.text
            assert found.json()["total"] == total, version


def test_blind_readers_never_get_predictions(
    label_studio: LabelStudioEnv,
    gateway: GatewayEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "blind", "blind_double")
    store_predictions(session_factory, campaign_id)
    with session_scope(session_factory) as session, pytest.raises(PreannotationError, match="may not see model"):
        push_predictions(session, label_studio.admin, "blind", "baseline", "3")
    project, tasks = _role_tasks(session_factory, campaign_id, "reader_1")
    assert label_studio.admin.get(f"/api/projects/{project}")["total_predictions_number"] == 0
    assert label_studio.admin.get(f"/api/projects/{project}")["show_collab_predictions"] is False

    # predictions put there behind our back (the show setting stays off)
    ls_task = min(tasks)
    box = {"x": 10, "y": 10, "width": 5, "height": 5, "rotation": 0, "rectanglelabels": ["mass"]}
    item = {"from_name": box_control("cc"), "to_name": "cc", "type": "rectanglelabels", "value": box}
    label_studio.admin.create_prediction(ls_task, [item], "rogue:1")
    token = label_studio.readers["reader_1"].token
    direct = requests.get(
        f"{label_studio.admin.url}/api/tasks/{ls_task}", headers={"Authorization": f"Token {token}"}, timeout=60
    ).json()
    assert direct["predictions"]  # Label Studio 1.23 alone hands them out: why the gateway removes them

    reader = gateway.as_token(token)
    for path in (f"/api/tasks/{ls_task}?project={project}", f"/api/tasks?project={project}&page=1&page_size=30"):
        answer = reader.get(f"{gateway.url}{path}", timeout=60)
        assert answer.status_code == 200, (path, answer.text)
        assert not _has_predictions(answer.json()), path
    upcoming = reader.get(f"{gateway.url}/api/projects/{project}/next", timeout=60)
    assert upcoming.status_code == 200 and not _has_predictions(upcoming.json())
    assert reader.get(f"{gateway.url}/api/predictions?task={ls_task}", timeout=60).status_code == 403


def test_boxes_a_database_writer_damaged_are_not_pushed() -> None:
    """Stored boxes passed the model contract; an edited row loses what it broke, never the push."""
    good = {"x_min": 10, "y_min": 10, "x_max": 50, "y_max": 60, "score": 0.7, "label": "mass"}
    damaged: list[dict[str, Any]] = [
        good,
        {"x_min": "left", "y_min": 1, "x_max": 2, "y_max": 3},
        {"y_min": 1},
        {"x_min": None},
    ]
    items = prediction_result({"cc": damaged}, {"cc": mapping_for(832, 1024)}, ("mass", "calcification"))
    assert [item["score"] for item in items] == [0.7]
    assert stored_box_list("{not json") == [] and stored_box_list('{"not": "a list"}') == []
    assert stored_box_list("[1, {}]") == [{}]
