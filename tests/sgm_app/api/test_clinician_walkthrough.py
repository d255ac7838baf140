"""The issue's 'done when': a clinician's day on the real pipeline, then the auditor's view and tamper check."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from emr_core.clinical.followup import evaluate_followup
from emr_core.clinical.rules import load_rules
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.linking.names import fold
from emr_core.linking.registry import import_registry
from emr_core.models import AuditEvent, PatientIdentifier, Study, utcnow
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_app.cli import _register, cli

from .test_forms_and_files import INTAKE, PDF

PASSWORD = "correct horse battery"


def _pipeline(tmp_path: Path, settings, session_factory) -> dict[str, str]:
    """Synthetic exams ingested and linked as in production; returns one person from the registry."""
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, CorpusOptions(patients=3, seed=21, columns=64, rows=80, prior_fraction=0.0))
    with session_scope(session_factory) as session:
        import_registry(session, corpus / "registry.csv")
    ingest_paths(session_factory, settings.model_copy(update={"ingest_workers": 1}), [corpus / "dicom"])
    link_studies(session_factory)
    with (corpus / "ground_truth" / "persons.csv").open(encoding="utf-8") as handle:
        return next(p for p in csv.DictReader(handle) if fold(p["full_name"]) != p["full_name"].lower())


def _study_of(session_factory, person: dict[str, str]) -> int:
    """The person's study, as the linker attached it to her registry record."""
    with session_scope(session_factory) as session:
        owner = select(PatientIdentifier.patient_id).where(PatientIdentifier.value == person["registry_patient_id"])
        study_id = session.scalar(select(Study.id).where(Study.patient_id.in_(owner)))
    assert study_id is not None, "the linker left the study unlinked"
    return study_id


def _clinician_day(api, person: dict[str, str], session_factory) -> int:
    token = api.client.post("/auth/login", data={"username": "clinician", "password": PASSWORD}).json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    typed = fold(person["full_name"])  # the name as typed on a keyboard without Vietnamese input
    found = api.client.get("/patients", params={"name": typed}, headers=me).json()["results"]
    patient = next(p for p in found if p["full_name"] == person["full_name"])
    exams = api.client.get(f"/patients/{patient['id']}/studies", headers=me).json()["studies"]
    views = [f"{i['laterality']}{i['view']}" for i in exams[0]["images"]]
    assert views == ["RCC", "LCC", "RMLO", "LMLO"]
    page = api.client.get(f"/patients/{patient['id']}/viewer", headers=me)
    assert page.status_code == 200 and page.text.count("<img") == 4 and "BI-RADS 3" in page.text
    png = api.client.get(exams[0]["images"][0]["png"], headers=me)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG") and png.headers["content-type"] == "image/png"
    tasks = api.client.get(f"/patients/{patient['id']}/tasks", headers=me).json()
    follow_up = [t for t in tasks if t["kind"] == "short_interval_followup"]
    assert [(t["status"], t["study_id"]) for t in follow_up] == [("open", exams[0]["id"])]
    # Synthetic exams are dated in the past, so the 6-month follow-up may already carry a reminder.
    assert {t["kind"] for t in tasks} <= {"short_interval_followup", "overdue_reminder"}
    assert (
        api.client.post(
            f"/patients/{patient['id']}/forms/breast_screening_intake", json={"data": INTAKE}, headers=me
        ).status_code
        == 201
    )
    attached = api.client.post(
        f"/patients/{patient['id']}/files",
        files={"file": ("pathology.pdf", PDF, "application/pdf")},
        data={"category": "pathology_report"},
        headers=me,
    )
    assert attached.status_code == 201
    return patient["id"]


def _auditor_sees(api, patient_id: int) -> None:
    today = utcnow().date()
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    events = api.get("admin", "/audit", params=window).json()
    mine = [(e["event_type"], e["action"]) for e in events if e["user_id"] == "clinician"]
    for expected in [
        ("login", "E"),
        ("patient_search", "E"),
        ("studies", "R"),
        ("viewer", "R"),
        ("render", "R"),
        ("task_list", "R"),
        ("form_submission", "C"),
        ("file_upload", "C"),
    ]:
        assert expected in mine, expected
    assert all(
        e["patient_ref"] == f"emr:{patient_id}" for e in events if e["event_type"] in ("viewer", "form_submission")
    )
    as_csv = api.get("admin", "/audit", params={**window, "format": "csv"})
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) >= len(events)
    report = api.get("admin", "/reports/operations", params={**window, "format": "csv"})
    assert "Activity per user and day" in report.text and ",clinician,clinician," in report.text
    assert "<h2>Open and overdue tasks</h2>" in api.get("admin", "/reports/operations", params=window).text


def _sgm(settings, monkeypatch, *args: str):
    monkeypatch.setenv("SGM_HOME", str(settings.root))
    monkeypatch.setenv("SGM_DATABASE_URL", settings.url)
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_clinician_finds_patient_follow_up_and_auditor_detects_tampering(
    api, settings, session_factory, tmp_path, monkeypatch
) -> None:
    person = _pipeline(tmp_path, settings, session_factory)
    patient_study = _study_of(session_factory, person)
    assert (
        api.post(
            "radiologist", f"/studies/{patient_study}/report", json={"assessment": "3", "composition": "c"}
        ).status_code
        == 201
    )
    with session_scope(session_factory) as session:  # the nightly run
        evaluate_followup(session, load_rules())
    patient_id = _clinician_day(api, person, session_factory)
    _auditor_sees(api, patient_id)
    assert _sgm(settings, monkeypatch, "audit", "verify").exit_code == 0
    with session_scope(session_factory) as session:  # someone edits a row by hand
        target = session.scalar(select(AuditEvent.id).where(AuditEvent.event_type == "file_upload"))
        session.execute(update(AuditEvent).where(AuditEvent.id == target).values(user_id="someone-else"))
    flagged = _sgm(settings, monkeypatch, "audit", "verify")
    assert flagged.exit_code == 1 and f"event {target}: content does not match its hash" in flagged.output
    exported = _sgm(
        settings, monkeypatch, "audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "json"
    )
    assert any(e["id"] == target and e["user_id"] == "someone-else" for e in json.loads(exported.output))
