"""Every endpoint checks the caller's role; denials and logins are audited; researchers see no identities."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.models import AuditEvent, Patient, Series, Study

PASSWORD = "correct horse battery"

# (method, url, role that is refused) for endpoints outside that role's permissions.
DENIED = [
    ("get", "/patients?name=lan", "researcher"),
    ("get", "/patients/1", "data_engineer"),
    ("post", "/studies/1/report", "clinician"),
    ("get", "/audit?from=2020-01-01&to=2020-01-02", "radiologist"),
    ("post", "/users", "clinician"),
    ("get", "/reports/operations?from=2020-01-01&to=2020-01-02", "researcher"),
    ("get", "/research/exams", "clinician"),
    ("post", "/form-templates/intake", "radiologist"),
    ("get", "/patients/1/files", "researcher"),
    ("get", "/tasks/mine", "data_engineer"),
]


def _events(factory: sessionmaker[Session], event_id: str) -> list[AuditEvent]:
    with session_scope(factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_id == event_id).order_by(AuditEvent.id)))


@pytest.mark.parametrize(("method", "url", "role"), DENIED)
def test_role_without_permission_is_refused_and_audited(api, session_factory, method: str, url: str, role: str) -> None:
    response = getattr(api.client, method)(url, headers=api.as_(role), **({"json": {}} if method == "post" else {}))
    assert response.status_code == 403, response.text
    assert role in response.json()["detail"]
    denial = _events(session_factory, "110113")[-1]
    assert (denial.user_id, denial.event_type, denial.outcome) == (role, "permission_denied", 4)
    assert denial.detail["path"] == url.split("?", maxsplit=1)[0]


def test_missing_or_bad_token_is_401_and_audited(api, session_factory) -> None:
    assert api.client.get("/patients/1").status_code == 401
    bad = api.client.get("/patients/1", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "bearer token" in bad.json()["detail"]
    reasons = [e.detail["reason"] for e in _events(session_factory, "110114")]
    assert reasons == ["missing token", "invalid token"]


def test_login_issues_a_working_token_and_is_audited(api, session_factory) -> None:
    wrong = api.client.post("/auth/login", data={"username": "clinician", "password": "guess"})
    assert wrong.status_code == 401
    ok = api.client.post("/auth/login", data={"username": "clinician", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["role"] == "clinician"
    me = api.client.get("/auth/me", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    assert me.json()["username"] == "clinician"
    logins = [(e.user_id, e.outcome) for e in _events(session_factory, "110114")]
    assert logins == [("clinician", 4), ("clinician", 0)]


def _identified_study(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        patient = Patient(full_name="Trần Thị Bích", name_key="bich thi tran", birth_date=date(1961, 5, 17), sex="F")
        session.add(patient)
        session.flush()
        study = Study(
            study_uid="1.2.826.0.1.99.1",
            patient_id=patient.id,
            accession_number="ACC-SECRET-1",
            study_date=date(2024, 2, 1),
            dicom_patient_id="PID-SECRET-7",
            dicom_patient_name="TRAN^THI BICH",
        )
        session.add(study)
        session.flush()
        session.add(Series(series_uid="1.2.826.0.1.99.1.1", study_id=study.id, modality="MG"))
        return study.id


def test_researcher_sees_only_de_identified_exams(api, session_factory) -> None:
    study_id = _identified_study(session_factory)
    assert api.post("radiologist", f"/studies/{study_id}/report", json={"assessment": "2"}).status_code == 201
    response = api.get("researcher", "/research/exams")
    assert response.status_code == 200
    body = json.dumps(response.json(), ensure_ascii=False)
    for identifying in ("Trần", "Bích", "tran", "1961", "ACC-SECRET", "PID-SECRET", "1.2.826.0.1.99", "2024-02-01"):
        assert identifying.lower() not in body.lower(), identifying
    exam = response.json()["exams"][0]
    assert exam["age_at_exam"] == 62 and exam["exam_year"] == 2024 and len(exam["patient"]) == 16
    for url in (
        "/patients?name=tran",
        "/patients/1",
        "/patients/1/studies",
        "/patients/1/viewer",
        "/patients/1/forms",
        "/patients/1/files",
        "/patients/1/tasks",
        "/audit?from=2020-01-01&to=2030-01-01",
    ):
        assert api.get("researcher", url).status_code == 403, url


def test_login_cookie_serves_safe_reads_only(api) -> None:
    signed_in = api.client.post("/auth/login", data={"username": "clinician", "password": PASSWORD})
    assert "sgm_token" in signed_in.cookies
    assert api.client.get("/auth/me").json()["username"] == "clinician"  # the cookie travels with the client
    refused = api.client.post("/patients", json={"full_name": "Cookie Only"})
    assert refused.status_code == 401  # a cross-site form cannot write with the cookie alone
