"""The predictions endpoints: run on demand (idempotent), read back, role-checked and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.settings import Settings
from tests.support.models import PlantedStudy, Registry


@pytest.fixture
def settings(settings: Settings, registry: Registry) -> Settings:
    return settings.model_copy(update={"mlflow_tracking_uri": registry.uri, "detector_model_name": registry.detector})


def test_run_on_demand_is_idempotent_and_readable(api, session_factory, studies: dict[int, PlantedStudy]) -> None:
    study_id = next(iter(studies))
    first = api.post("radiologist", f"/studies/{study_id}/predictions")
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "done"
    (run,) = first.json()["predictions"]
    assert (run["model_version"], run["status"], len(run["images"])) == ("1", "done", 4)
    again = api.post("radiologist", f"/studies/{study_id}/predictions")
    assert again.json()["outcome"] == "unchanged" and again.json()["predictions"] == first.json()["predictions"]
    read = api.get("clinician", f"/studies/{study_id}/predictions")
    assert read.status_code == 200 and read.json()["predictions"] == first.json()["predictions"]
    box = read.json()["predictions"][0]["images"][0]["boxes"][0]
    assert set(box) == {"x_min", "y_min", "x_max", "y_max", "score", "label"}
    with session_scope(session_factory) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "model_predictions")).all()
        assert [(e.action, e.user_id) for e in events] == [
            ("E", "radiologist"),
            ("E", "radiologist"),
            ("R", "clinician"),
        ]


def test_predictions_are_role_checked_and_404_for_unknown_studies(api, studies: dict[int, PlantedStudy]) -> None:
    study_id = next(iter(studies))
    assert api.post("clinician", f"/studies/{study_id}/predictions").status_code == 403
    assert api.get("researcher", f"/studies/{study_id}/predictions").status_code == 403
    assert api.post("radiologist", "/studies/999999/predictions").status_code == 404
    assert api.get("radiologist", "/studies/999999/predictions").status_code == 404


def test_an_unknown_alias_is_a_one_line_503(api, settings: Settings, studies: dict[int, PlantedStudy]) -> None:
    api.client.app.state.api.settings.inference_model_alias = "retired"  # the operator points at a gone alias
    response = api.post("radiologist", f"/studies/{next(iter(studies))}/predictions")
    assert response.status_code == 503
    assert "no model" in response.json()["detail"] and "'retired'" in response.json()["detail"]


def test_the_endpoints_are_documented(api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    operations = paths["/studies/{study_id}/predictions"]
    assert {"get", "post"} <= set(operations)
    assert "503" in operations["post"]["responses"] and "boxes" in operations["get"]["description"]
