"""Follow-up rules on synthetic exams: reports recorded over HTTP, the nightly evaluation, tasks read over HTTP."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.followup import evaluate_followup
from emr_core.clinical.rules import DEFAULT_RULES, RuleSet, add_months, load_rules
from emr_core.db import session_scope
from emr_core.models import Patient, Study
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

TODAY = date(2025, 6, 1)
# Overall exam assessment = the most actionable breast: 1 < 2 < 3 < 0 < 4 < 4A < ... < 6.
SEVERITY = ("1", "2", "3", "0", "4", "4A", "4B", "4C", "5", "6")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(out, CorpusOptions(patients=30, seed=11, columns=64, rows=80))
    return out / "ground_truth"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _load_exams(truth: Path, factory: sessionmaker[Session]) -> dict[str, dict]:
    """Patients and studies as the pipeline would hold them; returns study_uid -> facts."""
    persons = {p["person_id"]: p for p in _csv(truth / "persons.csv")}
    worst: dict[str, str] = {}
    for breast in _csv(truth / "breasts.csv"):
        old = worst.get(breast["study_uid"], "1")
        worst[breast["study_uid"]] = max(old, breast["assessment"], key=SEVERITY.index)
    exams, patient_ids = {}, {}
    with session_scope(factory) as session:
        for person_id, p in persons.items():
            patient = Patient(full_name=p["full_name"], birth_date=date.fromisoformat(p["birth_date"]), sex="F")
            session.add(patient)
            session.flush()
            patient_ids[person_id] = (patient.id, patient.birth_date)
        for s in _csv(truth / "studies.csv"):
            pid, born = patient_ids[s["person_id"]]
            study = Study(
                study_uid=s["study_uid"],
                patient_id=pid,
                accession_number=s["accession_number"],
                study_date=date.fromisoformat(s["study_date"]),
            )
            session.add(study)
            session.flush()
            exams[s["study_uid"]] = {
                "study_id": study.id,
                "patient_id": pid,
                "born": born,
                "date": study.study_date,
                "assessment": worst[s["study_uid"]],
            }
    return exams


def _newest(exams: dict[str, dict]) -> dict[int, dict]:
    newest: dict[int, dict] = {}
    for exam in exams.values():
        if exam["patient_id"] not in newest or exam["date"] > newest[exam["patient_id"]]["date"]:
            newest[exam["patient_id"]] = exam
    return newest


def _age(exam: dict) -> int:
    born, on = exam["born"], exam["date"]
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _expected(exam: dict) -> tuple[str, date] | None:
    """What the shipped rules must create for a patient's newest exam (kind, due date)."""
    a, on = exam["assessment"], exam["date"]
    if a == "0":
        return "recall", on + timedelta(days=30)
    if a == "3":
        return "short_interval_followup", add_months(on, 6)
    if a in ("4", "4A", "4B", "4C", "5"):
        return "biopsy", on + timedelta(days=14)
    months = 12 if 40 <= _age(exam) <= 49 else 24 if 50 <= _age(exam) <= 74 else None
    return ("routine_screening", add_months(on, months)) if months else None


def _report_all(api, exams: dict[str, dict]) -> None:
    for exam in exams.values():
        response = api.post(
            "radiologist", f"/studies/{exam['study_id']}/report", json={"assessment": exam["assessment"]}
        )
        assert response.status_code == 201, response.text


def _run(factory: sessionmaker[Session], rules: RuleSet | None = None, today: date = TODAY):
    with session_scope(factory) as session:
        return evaluate_followup(session, rules or load_rules(), today)


def _tasks(api, patient_id: int, status: str = "all") -> list[dict]:
    response = api.get("clinician", f"/patients/{patient_id}/tasks", params={"status": status})
    assert response.status_code == 200
    return response.json()


def _set_up(api, corpus: Path, session_factory) -> dict[int, dict]:
    exams = _load_exams(corpus, session_factory)
    _report_all(api, exams)
    newest = _newest(exams)
    # The radiologist calls one negative exam back for more imaging: BI-RADS 0 (the corpus has none).
    recalled = next(e for e in newest.values() if e["assessment"] == "1")
    assert (
        api.post("radiologist", f"/studies/{recalled['study_id']}/report", json={"assessment": "0"}).status_code == 201
    )
    recalled["assessment"] = "0"
    return newest


def test_shipped_rules_create_the_expected_task_for_every_newest_exam(api, corpus, session_factory) -> None:
    newest = _set_up(api, corpus, session_factory)
    report = _run(session_factory)
    kinds = set()
    for patient_id, exam in newest.items():
        expected = _expected(exam)
        got = [
            (t["kind"], date.fromisoformat(t["due_date"]), t["study_id"])
            for t in _tasks(api, patient_id)
            if t["kind"] != "overdue_reminder"
        ]
        assert got == ([(*expected, exam["study_id"])] if expected else []), (exam, got)
        kinds.add(expected[0] if expected else None)
    assert {"recall", "short_interval_followup", "biopsy", "routine_screening"} <= kinds
    assert report.created == sum(1 for e in newest.values() if _expected(e)) and report.exams_evaluated == len(newest)


def test_rerun_is_idempotent_and_closed_tasks_stay_closed(api, corpus, session_factory) -> None:
    newest = _set_up(api, corpus, session_factory)
    first = _run(session_factory)
    followup = next(e for e in newest.values() if e["assessment"] == "3")
    task = _tasks(api, followup["patient_id"])[0]
    closed = api.patch("clinician", f"/tasks/{task['id']}", json={"status": "done", "note": "mammogram booked"})
    assert closed.status_code == 200 and closed.json()["status"] == "done"
    again = _run(session_factory)
    assert (again.created, again.rescheduled, again.unchanged) == (0, 0, first.created)
    assert [t["status"] for t in _tasks(api, followup["patient_id"])] == ["done"]
    reopen = api.patch("clinician", f"/tasks/{task['id']}", json={"status": "cancelled"})
    assert reopen.status_code == 409 and reopen.json()["errors"][0]["field"] == "status"


def test_changed_rule_reschedules_open_tasks_only(api, corpus, session_factory) -> None:
    newest = _set_up(api, corpus, session_factory)
    _run(session_factory)
    routine = [e for e in newest.values() if _expected(e) and _expected(e)[0] == "routine_screening"]
    done = _tasks(api, routine[0]["patient_id"])[0]
    api.patch("clinician", f"/tasks/{done['id']}", json={"status": "done"})
    text = DEFAULT_RULES.read_text().replace(
        "{min_age: 50, max_age: 74, months: 24}", "{min_age: 50, max_age: 74, months: 18}"
    )
    changed = RuleSet.model_validate(yaml.safe_load(text))
    result = _run(session_factory, changed)
    fifties = [e for e in routine[1:] if 50 <= _age(e) <= 74]
    assert result.rescheduled == len(fifties) and result.created == 0
    for exam in fifties:
        assert _tasks(api, exam["patient_id"])[0]["due_date"] == add_months(exam["date"], 18).isoformat()
    assert _tasks(api, routine[0]["patient_id"])[0]["due_date"] == done["due_date"]  # closed: untouched


def test_biopsy_then_pathology_result_and_overdue_reminders(api, corpus, session_factory) -> None:
    newest = _set_up(api, corpus, session_factory)
    _run(session_factory)
    suspicious = next(e for e in newest.values() if _expected(e) and _expected(e)[0] == "biopsy")
    biopsy = _tasks(api, suspicious["patient_id"])[0]
    assert biopsy["assignee_role"] == "radiologist"
    assert biopsy["id"] in [t["id"] for t in api.get("radiologist", "/tasks/mine").json()]
    assert biopsy["id"] not in [t["id"] for t in api.get("clinician", "/tasks/mine").json()]
    api.patch("radiologist", f"/tasks/{biopsy['id']}", json={"status": "done"})
    late = date(2031, 1, 1)
    first = _run(session_factory, today=late)
    assert first.pathology_tasks_created >= 1 and first.reminders_created > 0
    kinds = [t["kind"] for t in _tasks(api, suspicious["patient_id"], "open")]
    assert "pathology_result" in kinds
    second = _run(session_factory, today=late)
    assert (second.pathology_tasks_created, second.reminders_created, second.created) == (0, 0, 0)
    overdue = next(t for t in _tasks(api, suspicious["patient_id"], "open") if t["kind"] == "pathology_result")
    api.patch("radiologist", f"/tasks/{overdue['id']}", json={"status": "done"})
    assert _run(session_factory, today=late).reminders_closed == 1
