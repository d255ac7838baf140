"""GET /studies/{id}/predictions over rows a database writer edited: malformed boxes and scores are skipped, the
rest answered, never a 500; on SQLite and MariaDB."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydicom.uid import generate_uid
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.models import Instance, Series, Study
from emr_core.settings import Settings
from sgm_models.predictions import ImagePrediction, store_done
from tests.support.damaged_boxes import MALFORMED_BOXES
from tests.support.dicom_factory import write_mg

BOX = {"x_min": 4.0, "y_min": 10.0, "x_max": 16.0, "y_max": 30.0, "score": 0.83, "label": "mass"}
GARBAGE = [
    *MALFORMED_BOXES,
    {"x_min": math.inf, "y_min": 1, "x_max": 9, "y_max": 9, "score": 0.5},  # stored as 1e400: valid JSON, read as inf
    BOX,
]
EDIT = text("UPDATE model_predictions SET boxes = :raw WHERE instance_id = :instance")


def _study(folder: Path, settings: Settings, sessions: sessionmaker[Session]) -> tuple[int, dict[str, int]]:
    """One ingested four-view study: its id, and position -> instance id."""
    uid = generate_uid()
    for k, (side, view) in enumerate((("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))):
        write_mg(
            folder / f"{k}.dcm", rows=64, columns=48, StudyInstanceUID=uid, SeriesInstanceUID=generate_uid(),
            ImageLaterality=side, ViewPosition=view, ViewCodeSequence=None,
        )  # fmt: skip
    ingest_paths(sessions, settings.model_copy(update={"ingest_workers": 1}), [folder])
    with session_scope(sessions) as session:
        rows = session.execute(
            select(Study.id, Instance.laterality, Instance.view, Instance.id)
            .join(Series, Series.study_id == Study.id)
            .join(Instance, Instance.series_id == Series.id)
            .where(Study.study_uid == uid)
        ).all()
        return rows[0][0], {f"{side}{view}": iid for _, side, view, iid in rows}


def test_edited_rows_lose_their_malformed_boxes_not_the_answer(
    api, tmp_path: Path, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    study_id, ids = _study(tmp_path / "dicom", settings, session_factory)
    with session_scope(session_factory) as session:
        images = [ImagePrediction(iid, "0" * 64, [BOX], 0.5) for iid in ids.values()]
        store_done(session, study_id, "detector", "2", "a" * 64, 0.9, images)
    edits = {"RCC": '{"not": "a list"}', "LCC": "null", "RMLO": json.dumps(GARBAGE).replace("Infinity", "1e400")}
    sqlite = session_factory.kw["bind"].dialect.name == "sqlite"
    if sqlite:  # MariaDB's JSON check constraint refuses invalid JSON, and its DOUBLE holds no infinity
        edits["LMLO"] = "[{oops"
    with session_scope(session_factory) as session:  # behind the application's back, as raw text
        for position, raw in edits.items():
            session.execute(EDIT, {"raw": raw, "instance": ids[position]})
        if sqlite:
            session.execute(
                text("UPDATE model_predictions SET image_score = 9e999 WHERE instance_id = :i"), {"i": ids["RCC"]}
            )
            session.execute(text("UPDATE study_inferences SET exam_score = 9e999"))
    response = api.get("clinician", f"/studies/{study_id}/predictions")
    assert response.status_code == 200, response.text
    (run,) = response.json()["predictions"]
    boxes = {f"{i['laterality']}{i['view']}": i["boxes"] for i in run["images"]}
    assert boxes["RCC"] == [] and boxes["LCC"] == [] and boxes["RMLO"] == [BOX]  # only the last one is a box
    assert boxes["LMLO"] == ([] if sqlite else [BOX])
    scores = {f"{i['laterality']}{i['view']}": i["image_score"] for i in run["images"]}
    assert scores == ({"RCC": None, "LCC": 0.5, "RMLO": 0.5, "LMLO": 0.5} if sqlite else dict.fromkeys(ids, 0.5))
    assert run["exam_score"] == (None if sqlite else 0.9)
