"""The nightly asset evaluates the follow-up rules through its resource; the schedule resolves."""

from __future__ import annotations

from datetime import date

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assets import followup
from emr_core.clinical.exam_reports import record_exam_report
from emr_core.db import session_scope
from emr_core.models import Patient, Study
from emr_core.models_clinical import Task
from emr_core.settings import Settings
from orchestration.jobs import evaluate_followup_job
from orchestration.schedules import nightly_followup_schedule
from tests.support.resources import dagster_resources


def _exam(factory: sessionmaker[Session], assessment: str) -> int:
    with session_scope(factory) as session:
        patient = Patient(full_name="Đặng Thị Thảo", birth_date=date(1965, 1, 1))
        session.add(patient)
        session.flush()
        study = Study(study_uid=f"1.2.3.{assessment}", patient_id=patient.id, study_date=date(2025, 1, 10))
        session.add(study)
        session.flush()
        record_exam_report(session, study.id, assessment, "dr.a")
        return patient.id


def _materialize(settings: Settings, rules_path: str = "") -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [followup.followup_tasks],
        resources={"emr_db": dagster_resources(settings)["emr_db"]},
        run_config={"ops": {"followup_tasks": {"config": {"rules_path": rules_path}}}},
        selection=[followup.followup_tasks],
    )


def test_asset_creates_tasks_once_and_reports_them(settings: Settings, session_factory, tmp_path) -> None:
    patient_id = _exam(session_factory, "0")
    first = _materialize(settings)
    assert first.success
    metadata = first.asset_materializations_for_node("followup_tasks")[0].metadata
    assert metadata["created"].value == 1 and metadata["exams_evaluated"].value == 1
    assert _materialize(settings).asset_materializations_for_node("followup_tasks")[0].metadata["created"].value == 0
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: recall\n    assessments: ['0']\n    task: {kind: recall, title: Recall, due_days: 10}\n"
    )
    assert _materialize(settings, str(rules)).success
    with session_scope(session_factory) as session:
        tasks = session.execute(
            select(Task.rule_id, Task.status, Task.due_date)
            .where(Task.patient_id == patient_id, Task.kind == "recall")
            .order_by(Task.id)
        ).all()
    assert [tuple(t) for t in tasks] == [
        ("birads-0-recall", "superseded", date(2025, 2, 9)),
        ("recall", "open", date(2025, 1, 20)),
    ]


def test_nightly_schedule_resolves_to_the_followup_asset(settings: Settings) -> None:
    # Built from the pieces orchestration.definitions wires together, so this test stands on its own.
    defs = dg.Definitions(
        assets=[followup.followup_tasks],
        jobs=[evaluate_followup_job],
        schedules=[nightly_followup_schedule],
        resources={"emr_db": dagster_resources(settings)["emr_db"]},
    )
    repo = defs.get_repository_def()
    assert repo.get_schedule_def("nightly_followup_schedule").job_name == "evaluate_followup_job"
    assert [node.name for node in repo.get_job("evaluate_followup_job").graph.node_defs] == ["followup_tasks"]
