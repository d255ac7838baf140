"""Model predictions in the hanging and the viewer page: the newest successful run, placed like findings, garbage
boxes skipped, failed runs never drawn; on SQLite and MariaDB."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydicom.uid import generate_uid
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.roles import Role
from emr_core.clinical.users import create_user
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.models import AuditEvent, Instance, Patient, Series, Study
from emr_core.models_ml import ModelPrediction, StudyInference
from emr_core.settings import Settings
from sgm_app.api import create_app
from sgm_app.web.hanging import chosen_runs, study_views
from sgm_models.predictions import DoneRun, ImagePrediction, done_runs, store_done, store_failure
from tests.support.damaged_boxes import MALFORMED_BOXES
from tests.support.dicom_factory import write_mg

COLUMNS, ROWS = 48, 64
# The right breast stored with its chest wall on the left: the viewer mirrors it. The left one hangs as stored.
ORIENTATION = {"R": ["A", "L"], "L": ["A", "R"]}
BOX = {"x_min": 4.0, "y_min": 10.0, "x_max": 16.0, "y_max": 30.0, "score": 0.83, "label": "mass"}
PASSWORD = "pw-viewer-preds-2026!"
EDIT = text("UPDATE model_predictions SET boxes = :raw WHERE instance_id = :instance")


def _study(folder: Path, settings: Settings, sessions: sessionmaker[Session]) -> dict[str, int]:
    """One ingested study of four views; position -> instance id."""
    uid = generate_uid()
    for k, (side, view) in enumerate((("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))):
        write_mg(
            folder / f"{k}.dcm", rows=ROWS, columns=COLUMNS, StudyInstanceUID=uid, SeriesInstanceUID=generate_uid(),
            ImageLaterality=side, ViewPosition=view, SeriesDescription=f"{side} {view}",
            PatientOrientation=ORIENTATION[side], ViewCodeSequence=None,
        )  # fmt: skip
    ingest_paths(sessions, settings.model_copy(update={"ingest_workers": 1}), [folder])
    with session_scope(sessions) as session:
        rows = session.execute(
            select(Instance.laterality, Instance.view, Instance.id)
            .join(Series)
            .join(Study)
            .where(Study.study_uid == uid)
        )
        return {f"{side}{view}": iid for side, view, iid in rows}


def _images(ids: dict[str, int], boxes: list[dict[str, Any]]) -> list[ImagePrediction]:
    return [ImagePrediction(iid, "0" * 64, boxes, 0.5) for iid in ids.values()]


@pytest.fixture
def study(tmp_path: Path, settings: Settings, session_factory: sessionmaker[Session]) -> tuple[int, dict[str, int]]:
    """A study with an older done run (v1), a newer done run (v2) and a newest failed run (v3)."""
    ids = _study(tmp_path / "dicom", settings, session_factory)
    with session_scope(session_factory) as session:
        study_id = session.scalar(select(Series.study_id).join(Instance).where(Instance.id == ids["RCC"]))
        assert study_id is not None
        store_done(session, study_id, "detector", "1", "a" * 64, 0.4, _images(ids, [{**BOX, "score": 0.41}]))
    with session_scope(session_factory) as session:
        store_done(session, study_id, "detector", "2", "a" * 64, 0.9, _images(ids, [BOX]))
    with session_scope(session_factory) as session:
        store_failure(session, study_id, "detector", "3", "a" * 64, "out of memory")
    return study_id, ids


def test_the_newest_successful_run_is_placed_like_findings_mirrored_or_not(
    study: tuple[int, dict[str, int]], settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    study_id, _ = study
    with session_scope(session_factory) as session:
        runs = done_runs(session, study_id)
        assert [(r.model_version, r.exam_score) for r in runs] == [("2", 0.9), ("1", 0.4)]  # failed v3 left out
        run = chosen_runs({study_id: runs}, study_id, None)[study_id]
        assert run.model_version == "2"
        views = {v.position: v for v in study_views(session, settings, study_id, run)}
    assert views["RCC"].mirrored and not views["LCC"].mirrored
    (plain,) = views["LCC"].ai_boxes
    assert plain["rect"] == pytest.approx([4 / COLUMNS, 10 / COLUMNS, 12 / COLUMNS, 20 / COLUMNS])
    assert plain["label"] == "AI 0.83" and plain["title"] == "detector 2 · mass · 0.83"
    (mirrored,) = views["RCC"].ai_boxes
    assert mirrored["rect"] == pytest.approx([(COLUMNS - 16) / COLUMNS, 10 / COLUMNS, 12 / COLUMNS, 20 / COLUMNS])
    assert views["RCC"].ai_score == 0.5 and views["RCC"].boxes == []


def test_an_asked_for_run_is_shown_and_a_prior_gets_the_same_model_version() -> None:
    v2, v1 = DoneRun(12, "detector", "2", 0.9), DoneRun(11, "detector", "1", 0.4)
    prior_v1, prior_other = DoneRun(5, "detector", "1", 0.2), DoneRun(6, "other", "7", 0.3)
    runs = {1: [v2, v1], 2: [prior_other, prior_v1], 3: []}
    assert chosen_runs(runs, 1, None) == {1: v2, 2: prior_other}  # each study's newest; none for study 3
    assert chosen_runs(runs, 1, 11) == {1: v1, 2: prior_v1}
    assert chosen_runs(runs, 1, 5) == {1: v2, 2: prior_other}  # another study's run id is not taken
    assert chosen_runs({1: []}, 1, None) == {}  # no predictions: nothing chosen, no error


def test_garbage_boxes_are_skipped_and_the_rest_drawn(
    study: tuple[int, dict[str, int]], settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    study_id, ids = study
    garbage = [*MALFORMED_BOXES, {**BOX, "label": ["not", "text"]}]
    edits = {"RCC": '{"not": "a list"}', "LCC": "null", "RMLO": json.dumps(garbage)}
    if session_factory.kw["bind"].dialect.name == "sqlite":  # MariaDB's JSON check constraint refuses invalid JSON
        edits["LMLO"] = "[{oops"
    with session_scope(session_factory) as session:
        for position, raw in edits.items():  # edited in the database behind the application's back, as raw text
            session.execute(EDIT, {"raw": raw, "instance": ids[position]})
    with session_scope(session_factory) as session:
        run = done_runs(session, study_id)[0]
        views = {v.position: v for v in study_views(session, settings, study_id, run)}
    assert views["RCC"].ai_boxes == [] and views["LCC"].ai_boxes == []
    assert [b["label"] for b in views["RMLO"].ai_boxes] == ["AI 0.83"]  # only the last one is a box
    assert views["RMLO"].ai_boxes[0]["title"] == "detector 2 · 0.83"


@contextmanager
def _signed_in(settings: Settings, role: Role) -> Iterator[TestClient]:
    """The real app with a browser-like session: the login form, its CSRF token and the session cookie."""
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        form = {"username": role.value, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        yield client


def _ai_labels(page: str) -> list[str]:
    boxes = [json.loads(html.unescape(m)) for m in re.findall(r"data-ai-boxes='([^']*)'", page)]
    return [b["label"] for view in boxes for b in view]


def _viewer_audit(session_factory: sessionmaker[Session]) -> list[dict[str, object]]:
    with session_scope(session_factory) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "viewer").order_by(AuditEvent.id))
        return [e.detail for e in events]


def test_the_viewer_page_draws_the_chosen_run_audited_and_role_checked(
    study: tuple[int, dict[str, int]], settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    study_id, _ = study
    with session_scope(session_factory) as session:
        for role in (Role.RADIOLOGIST, Role.RESEARCHER):
            create_user(session, role.value, role.value, PASSWORD)
        patient = Patient(full_name="Trần Thị Hoa")
        session.add(patient)
        session.flush()
        session.execute(update(Study).where(Study.id == study_id).values(patient_id=patient.id))
        url = f"/ui/patients/{patient.id}/viewer"
        v1 = next(r.id for r in done_runs(session, study_id) if r.model_version == "1")
    with _signed_in(settings, Role.RADIOLOGIST) as client:
        page = client.get(url)
        assert page.status_code == 200, page.text
        assert _ai_labels(page.text) == ["AI 0.83"] * 4
        assert "detector version 2 · exam score 0.90" in page.text and 'id="ai-toggle"' in page.text
        assert 'class="studies ai-hidden' in page.text  # off until the reader asks
        assert re.findall(r'<option value="(\d+)"[^>]*>detector (\d)', page.text) == [
            (str(v1 + 1), "2"),
            (str(v1), "1"),
        ]
        chosen_v1 = client.get(url, params={"ai": v1, "ai_shown": 1}).text
        assert _ai_labels(chosen_v1) == ["AI 0.41"] * 4 and 'class="studies ai-hidden' not in chosen_v1
        assert [d["model_runs"] for d in _viewer_audit(session_factory)] == [["detector 2"], ["detector 1"]]
        with session_scope(session_factory) as session:
            session.execute(delete(ModelPrediction))
            session.execute(delete(StudyInference))
        bare = client.get(url)
        assert bare.status_code == 200 and _ai_labels(bare.text) == [] and 'id="ai-toggle"' not in bare.text
    with _signed_in(settings, Role.RESEARCHER) as client:
        assert client.get(url).status_code == 403
