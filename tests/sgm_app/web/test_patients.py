"""Patients in the browser: search as you type without diacritics, the chart, register and edit demographics."""

from __future__ import annotations

import csv
import time
from typing import Any

from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.linking.names import fold
from emr_core.models import AuditEvent, Patient
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in


def _person_with_diacritics(server: WebServer) -> dict[str, str]:
    with (server.corpus / "ground_truth" / "persons.csv").open(encoding="utf-8") as handle:
        return next(p for p in csv.DictReader(handle) if fold(p["full_name"]) != p["full_name"].lower())


def test_find_a_patient_typing_without_diacritics_and_open_the_chart(page: Any, web_server: WebServer) -> None:
    person = _person_with_diacritics(web_server)
    sign_in(page, "clinician", "/ui/patients")
    typed = fold(person["full_name"])  # what a keyboard without Vietnamese input gives
    box = page.get_by_label("Search by name, identifier or birth date")
    box.press_sequentially(typed, delay=20)  # as typed, no Enter: results arrive by themselves
    link = page.locator("#results").get_by_role("link", name=person["full_name"])
    link.wait_for()
    assert page.url.endswith("/ui/patients")  # no page load happened
    started = time.monotonic()
    link.click()
    page.get_by_role("heading", name="Studies").wait_for()
    assert time.monotonic() - started < 2.0
    assert page.get_by_role("heading", level=1).inner_text() == person["full_name"]
    studies = page.locator("section", has_text="Studies").locator("tbody tr")
    assert studies.count() >= 1 and "MAMMO" in studies.first.inner_text()
    patient_id = int(page.url.rsplit("/", 1)[1])
    with session_scope(web_server.sessions) as session:
        reads = session.scalars(
            select(AuditEvent.event_type).where(
                AuditEvent.patient_ref == f"emr:{patient_id}", AuditEvent.user_id == "clinician"
            )
        ).all()
    assert "patient" in reads, "reading the chart was not audited as a Patient Record read"


def test_search_by_identifier_and_birth_date(page: Any, web_server: WebServer) -> None:
    person = _person_with_diacritics(web_server)
    sign_in(page, "clinician", "/ui/patients?q=" + person["registry_patient_id"])
    assert page.locator("#results").get_by_role("link", name=person["full_name"]).is_visible()
    page.goto("/ui/patients?q=" + person["birth_date"])
    assert page.locator("#results").get_by_role("link", name=person["full_name"]).is_visible()


@BOTH_BACKENDS
def test_register_with_a_mistake_then_correct_and_edit(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician", "/ui/patients/new/form")
    page.get_by_label("Full name").fill("Trần Thị Bích Ngọc")
    page.get_by_label("Birth date").fill("2999-01-01")  # in the future: refused beside the field
    page.get_by_label("Identifier (optional)").fill("WEB-0001")
    page.get_by_role("button", name="Register").click()
    error = page.locator("#f-birth_date-error")
    assert error.inner_text() == "The birth date must be between 1900 and today."
    assert page.get_by_label("Full name").input_value() == "Trần Thị Bích Ngọc"  # what was typed is kept
    with session_scope(web_server.sessions) as session:
        assert session.scalar(select(Patient).where(Patient.full_name == "Trần Thị Bích Ngọc")) is None
    page.get_by_label("Birth date").fill("1971-04-02")
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Trần Thị Bích Ngọc").wait_for()
    assert "WEB-0001" in page.inner_text("main")
    page.get_by_role("link", name="Edit demographics").click()
    page.get_by_label("Full name").fill("")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#f-full_name-error").inner_text() == "Enter the patient's full name."
    page.get_by_label("Full name").fill("Trần Thị Bích Ngọc B")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text() == "Saved."
    page.goto("/ui/patients?q=tran thi bich ngoc b")
    assert page.locator("#results").get_by_role("link", name="Trần Thị Bích Ngọc B").is_visible()


@BOTH_BACKENDS
def test_steward_merges_a_duplicate_record_from_the_chart(page: Any, web_server: WebServer) -> None:
    from emr_core.clinical.search import index_patients
    from emr_core.linking.names import name_key
    from emr_core.models_clinical import PatientMerge

    with session_scope(web_server.sessions) as session:
        ids = []
        for name in ("Đỗ Thị Hằng", "Do Thi Hang"):
            patient = Patient(full_name=name, name_key=name_key(name))
            session.add(patient)
            session.flush()
            index_patients(session, [(patient.id, name)])
            ids.append(patient.id)
    target, source = ids
    sign_in(page, "data_steward", f"/ui/patients/{target}")
    page.get_by_text("Merge another record of this person into this one").click()
    page.get_by_label("Record number to merge").fill(str(target))  # itself: refused beside the field
    page.get_by_role("button", name="Merge").click()
    assert page.locator("#f-source-error").inner_text().startswith("These two records cannot be merged")
    assert page.get_by_label("Record number to merge").input_value() == str(target)
    page.get_by_label("Record number to merge").fill(str(source))
    page.get_by_label("Reason").fill("same person, typed without diacritics")
    page.get_by_role("button", name="Merge").click()
    assert page.get_by_role("status").inner_text() == f"Record #{source} was merged into this one."
    assert f"#{source}" in page.locator("section", has_text="Merged records").inner_text()
    with session_scope(web_server.sessions) as session:
        merge = session.scalar(select(PatientMerge).where(PatientMerge.source_patient_id == source))
        assert merge is not None and merge.target_patient_id == target and merge.merged_by == "data_steward"
    page.goto(f"/ui/patients/{source}")
    assert page.get_by_role("alert").inner_text().startswith("This record was merged into")
