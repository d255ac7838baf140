"""The retraining sensor requests a run once N new exams have final reads since its last request."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.models import Study
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from orchestration.model_sensors import adjudicated_exams_sensor
from tests.support.model_dataset import consolidate_ground_truth
from tests.support.resources import dagster_resources, run_sensor


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retrain") / "corpus"
    generate_corpus(out, CorpusOptions(patients=5, seed=2, columns=64, rows=80, prior_fraction=0.0))
    return out


@pytest.mark.mariadb
def test_it_fires_after_n_new_final_exams_and_counts_again_from_there(
    settings: Settings,
    session_factory: sessionmaker[Session],
    small_corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SGM_RETRAIN_AFTER_EXAMS", "3")
    settings.root.mkdir(parents=True, exist_ok=True)
    ingest_paths(session_factory, settings, [small_corpus / "dicom"])
    with session_scope(session_factory) as session:
        studies = list(session.scalars(select(Study.study_uid).order_by(Study.id)))
    resources = dagster_resources(settings)

    def evaluate(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with dg.instance_for_test() as instance:
            return run_sensor(adjudicated_exams_sensor, resources, cursor, instance)

    first = evaluate(None)
    assert isinstance(first, dg.SkipReason) and "0 of 3" in str(first.skip_message)
    consolidate_ground_truth(session_factory, small_corpus, only=studies[:2])
    assert "2 of 3" in str(evaluate(None).skip_message)
    consolidate_ground_truth(session_factory, small_corpus, only=studies[2:4])
    fired = evaluate(None)
    assert isinstance(fired, dg.SensorResult) and len(fired.run_requests) == 1
    assert fired.run_requests[0].tags["sgm/new_exams"] == "4"
    assert "0 of 3" in str(evaluate(fired.cursor).skip_message)
    # The same exams final again (a re-read, a consolidation pass): new read ids, no new exam.
    consolidate_ground_truth(session_factory, small_corpus, campaign="gt-again", only=studies[:4])
    assert "0 of 3" in str(evaluate(fired.cursor).skip_message)
    consolidate_ground_truth(session_factory, small_corpus, only=studies[4:])
    assert "1 of 3" in str(evaluate(fired.cursor).skip_message)
