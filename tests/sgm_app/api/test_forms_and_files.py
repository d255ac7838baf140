"""Clinical forms (versioned JSON Schema, the shipped intake form) and attached files over HTTP."""

from __future__ import annotations

import copy
import hashlib
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from emr_core.audit import verify_chain
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.models_clinical import FormSubmission, PatientFile

INTAKE = {
    "symptoms": {"any": True, "lump": "left", "since_weeks": 3},
    "family_history": {
        "breast_or_ovarian_cancer": True,
        "relatives": [{"relation": "mother", "cancer": "breast", "age_at_diagnosis": 52}],
    },
    "prior_procedures": [{"kind": "biopsy", "side": "right", "year": 2019, "result": "benign"}],
    "hormone_therapy": {"current": False},
    "pregnant_or_breastfeeding": "no",
    "implants": {"present": False},
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _patient(api) -> int:
    return api.post("clinician", "/patients", json={"full_name": "Hoàng Thị Yến", "birth_date": "1972-02-02"}).json()[
        "id"
    ]


def _count(session_factory, model) -> int:
    with session_scope(session_factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_shipped_intake_form_is_filled_and_read_back(api) -> None:
    listed = {t["name"]: t for t in api.get("clinician", "/form-templates").json()}
    schema = listed["breast_screening_intake"]["json_schema"]
    assert {
        "symptoms",
        "family_history",
        "prior_procedures",
        "hormone_therapy",
        "pregnant_or_breastfeeding",
        "implants",
    } <= set(schema["required"])
    pid = _patient(api)
    saved = api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json={"data": INTAKE})
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 1 and saved.json()["submitted_by"] == "clinician"
    assert api.get("radiologist", f"/patients/{pid}/forms").json()[0]["data"] == INTAKE


def test_invalid_submission_names_each_field_and_writes_nothing(api, session_factory) -> None:
    pid = _patient(api)
    bad = copy.deepcopy(INTAKE)
    bad["symptoms"]["lump"] = "middle"
    del bad["implants"]
    bad["family_history"]["relatives"][0]["age_at_diagnosis"] = -1
    before = (_count(session_factory, FormSubmission), _count(session_factory, AuditEvent))
    response = api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json={"data": bad})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"data.symptoms.lump", "data.implants", "data.family_history.relatives.0.age_at_diagnosis"}
    assert "data.symptoms.lump" in response.json()["detail"]
    assert (_count(session_factory, FormSubmission), _count(session_factory, AuditEvent)) == before
    missing = api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "data"


def test_old_submissions_stay_readable_after_the_template_changes(api) -> None:
    pid = _patient(api)
    assert (
        api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json={"data": INTAKE}).status_code
        == 201
    )
    v1 = api.get("clinician", "/form-templates/breast_screening_intake/versions/1").json()["json_schema"]
    v2 = copy.deepcopy(v1)
    v2["required"].append("last_mammogram_year")
    published = api.post("admin", "/form-templates/breast_screening_intake", json={"json_schema": v2})
    assert published.status_code == 201 and published.json()["version"] == 2
    refused = api.post("clinician", f"/patients/{pid}/forms/breast_screening_intake", json={"data": INTAKE})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "data.last_mammogram_year"
    newer = api.post(
        "clinician",
        f"/patients/{pid}/forms/breast_screening_intake",
        json={"data": {**INTAKE, "last_mammogram_year": 2023}},
    )
    assert newer.status_code == 201
    history = api.get("clinician", f"/patients/{pid}/forms").json()
    assert [(s["version"], s["data"].get("last_mammogram_year")) for s in history] == [(1, None), (2, 2023)]
    not_schema = api.post("admin", "/form-templates/breast_screening_intake", json={"json_schema": {"type": "bogus"}})
    assert not_schema.status_code == 422 and not_schema.json()["errors"][0]["field"] == "json_schema"


def test_files_are_content_addressed_and_downloaded_with_their_type(api, settings) -> None:
    pid = _patient(api)
    upload = lambda name, data, ctype, category="pathology_report": api.post(  # noqa: E731
        "clinician", f"/patients/{pid}/files", files={"file": (name, data, ctype)}, data={"category": category}
    )
    first = upload("pathology.pdf", PDF, "application/pdf")
    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    second = upload("../../copy of pathology.pdf", PDF, "application/pdf", "consent_form")
    assert second.json()["sha256"] == first.json()["sha256"] and second.json()["filename"] == "copy of pathology.pdf"
    assert len(list((settings.root / "files").rglob(first.json()["sha256"]))) == 1  # one copy of the bytes
    download = api.get("radiologist", first.json()["download"])
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "pathology.pdf" in download.headers["content-disposition"]
    assert [f["category"] for f in api.get("clinician", f"/patients/{pid}/files").json()] == [
        "pathology_report",
        "consent_form",
    ]


def test_file_limits_and_type_checks_refuse_and_write_nothing(api, session_factory, settings) -> None:
    pid = _patient(api)
    upload = lambda data, ctype, category="other": api.post(  # noqa: E731
        "clinician", f"/patients/{pid}/files", files={"file": ("f", data, ctype)}, data={"category": category}
    )
    assert upload(PDF + b"0" * 70_000, "application/pdf").status_code == 413  # the fixture's limit is 64 KiB
    spoofed = upload(b"MZ\x90\x00 not a pdf", "application/pdf")
    assert spoofed.status_code == 415 and spoofed.json()["errors"][0]["field"] == "file"
    assert upload(b"#!/bin/sh", "application/x-sh").status_code == 415
    wrong_category = upload(PDF, "application/pdf", "selfie")
    assert wrong_category.status_code == 422 and wrong_category.json()["errors"][0]["field"] == "category"
    assert upload(b"", "text/plain").status_code == 422
    assert _count(session_factory, PatientFile) == 0
    assert not [p for p in (settings.root / "files").rglob("*") if p.is_file()]


def test_concurrent_submissions_and_reads_keep_one_audit_chain(api, session_factory) -> None:
    """Writes lock the chain head only when they record their event: concurrent writers and the reads'
    group commits all land, each once, in one intact chain (on MariaDB, row locks, not a global lock)."""
    patients = [_patient(api) for _ in range(3)]
    url = "/patients/{}/forms/breast_screening_intake"

    def work(n: int) -> int:
        pid = patients[n % len(patients)]
        if n % 3 == 0:
            return int(api.get("clinician", f"/patients/{pid}").status_code)
        return int(api.post("clinician", url.format(pid), json={"data": INTAKE}).status_code)

    before = _count(session_factory, AuditEvent)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(work, range(24)))
    assert codes.count(201) == 16 and codes.count(200) == 8
    assert _count(session_factory, FormSubmission) == 16
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == before + 24
        assert verify_chain(session) == []
