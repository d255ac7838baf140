"""An intake form rendered from its JSON Schema: one mistake shown beside its field, corrected, saved, viewed."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from emr_core.db import session_scope
from emr_core.models import Patient
from emr_core.models_clinical import FormSubmission
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in


def _patient_id(server: WebServer) -> int:
    with session_scope(server.sessions) as session:
        return int(session.scalar(select(func.min(Patient.id))))


def _submissions(server: WebServer) -> int:
    with session_scope(server.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(FormSubmission)))


def _answer(page: Any, name: str, value: str) -> None:
    page.locator(f'[name="{name}"][value="{value}"]').check()


@BOTH_BACKENDS
def test_intake_form_with_one_mistake_then_corrected(page: Any, web_server: WebServer) -> None:
    pid = _patient_id(web_server)
    before = _submissions(web_server)
    sign_in(page, "clinician", f"/ui/patients/{pid}")
    page.get_by_role("link", name="Forms").first.click()
    page.get_by_role("link", name="Breast screening intake").click()
    _answer(page, "symptoms.any", "true")
    page.get_by_label("Lump").select_option("left")
    page.get_by_label("Since weeks").fill("600")  # the mistake: the template allows at most 520
    _answer(page, "family_history.breast_or_ovarian_cancer", "true")
    page.locator('[name="family_history.relatives.0.relation"]').select_option("mother")
    page.locator('[name="family_history.relatives.0.cancer"]').select_option("breast")
    _answer(page, "hormone_therapy.current", "false")
    page.get_by_label("Pregnant or breastfeeding").select_option("no")
    _answer(page, "implants.present", "false")
    page.get_by_role("button", name="Save form").click()

    error = page.locator("#f-symptoms-since_weeks-error")
    assert error.inner_text() == "Must be at most 520."
    assert page.get_by_label("Since weeks").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Since weeks").input_value() == "600"  # what was typed stays
    assert page.get_by_label("Lump").input_value() == "left"
    assert page.locator('[name="family_history.relatives.0.relation"]').input_value() == "mother"
    assert page.locator("p.error").count() == 1
    assert _submissions(web_server) == before  # nothing half-written

    page.get_by_label("Since weeks").fill("6")
    page.get_by_role("button", name="Save form").click()
    assert page.get_by_role("status").inner_text() == "Form saved."
    assert "Since weeks: 6" in page.inner_text("main")
    assert _submissions(web_server) == before + 1
    page.get_by_role("link", name="Forms").last.click()
    assert page.locator("table").get_by_role("cell", name="v1").count() >= 1


def test_the_error_summary_names_fields_by_their_labels_in_form_order(page: Any, web_server: WebServer) -> None:
    before = _submissions(web_server)
    sign_in(page, "clinician", f"/ui/patients/{_patient_id(web_server)}/forms/breast_screening_intake/fill")
    page.get_by_role("button", name="Save form").click()
    summary = page.locator("#form-errors li")
    assert summary.all_inner_texts() == [
        "Symptoms › Any: This field is required.",
        "Family history › Breast or ovarian cancer: This field is required.",
        "Hormone therapy › Current: This field is required.",
        "Pregnant or breastfeeding: This field is required.",
        "Implants › Present: This field is required.",
    ]
    for link in summary.get_by_role("link").all():  # each leads to its field
        assert page.locator(link.get_attribute("href")).count() == 1
    assert _submissions(web_server) == before


@BOTH_BACKENDS
def test_a_word_in_a_number_field_is_refused_beside_it(page: Any, web_server: WebServer) -> None:
    pid = _patient_id(web_server)
    sign_in(page, "clinician", f"/ui/patients/{pid}/forms/breast_screening_intake/fill")
    page.get_by_label("Since weeks").fill("three")
    page.get_by_role("button", name="Save form").click()
    assert page.locator("#f-symptoms-since_weeks-error").inner_text() == "Enter a whole number."
    assert page.get_by_label("Since weeks").input_value() == "three"


@BOTH_BACKENDS
def test_history_spans_template_versions_and_old_answers_keep_their_version(page: Any, web_server: WebServer) -> None:
    from emr_core.clinical.forms import add_template_version, latest_template, store_submission

    pid = _patient_id(web_server) + 1
    with session_scope(web_server.sessions) as session:
        v1 = latest_template(session, "breast_screening_intake")
        answers = {
            "symptoms": {"any": False},
            "family_history": {"breast_or_ovarian_cancer": False},
            "prior_procedures": [],
            "hormone_therapy": {"current": False},
            "pregnant_or_breastfeeding": "no",
            "implants": {"present": False},
        }
        old = store_submission(session, pid, v1, answers, "clinician")
        schema = {**v1.json_schema, "properties": {**v1.json_schema["properties"]}}
        schema["properties"]["referring_doctor"] = {"type": "string", "maxLength": 100}
        v2 = add_template_version(session, "breast_screening_intake", schema, "admin")
        old_id, old_version, new_version = old.id, v1.version, v2.version
    sign_in(page, "clinician", f"/ui/patients/{pid}/forms/breast_screening_intake/fill")
    assert page.get_by_role("heading", level=1).inner_text().endswith(f"v{new_version}")
    for name, value in (("symptoms.any", "false"), ("family_history.breast_or_ovarian_cancer", "false")):
        _answer(page, name, value)
    _answer(page, "hormone_therapy.current", "false")
    _answer(page, "implants.present", "false")
    page.get_by_label("Pregnant or breastfeeding").select_option("no")
    page.get_by_label("Referring doctor").fill("BS. Lê Văn Tâm")
    page.get_by_role("button", name="Save form").click()
    assert page.get_by_role("status").inner_text() == "Form saved."
    assert "Referring doctor: BS. Lê Văn Tâm" in page.inner_text("main")
    page.goto(f"/ui/patients/{pid}/forms")
    versions = page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    assert f"v{old_version}" in versions and f"v{new_version}" in versions
    page.goto(f"/ui/patients/{pid}/forms/submissions/{old_id}")
    assert page.get_by_role("heading", level=1).inner_text().endswith(f"v{old_version}")
    assert "Referring doctor" not in page.inner_text("main")


@BOTH_BACKENDS
def test_a_merged_away_record_refuses_a_form_and_names_the_survivor(page: Any, web_server: WebServer) -> None:
    from emr_core.clinical.patients import merge_patients

    with session_scope(web_server.sessions) as session:
        source = Patient(full_name="Trần Thị Gộp", birth_date=date(1970, 1, 2), sex="F")
        target = Patient(full_name="Trần Thị Gộp", birth_date=date(1970, 1, 2), sex="F")
        session.add_all([source, target])
        session.flush()
        source_id, target_id = source.id, target.id
    sign_in(page, "clinician", f"/ui/patients/{source_id}/forms/breast_screening_intake/fill")
    with session_scope(web_server.sessions) as session:  # merged while the clinician has the form open
        merge_patients(session, source_id, target_id, "steward")
    before = _submissions(web_server)
    _answer(page, "symptoms.any", "false")
    _answer(page, "family_history.breast_or_ovarian_cancer", "false")
    _answer(page, "hormone_therapy.current", "false")
    page.get_by_label("Pregnant or breastfeeding").select_option("no")
    _answer(page, "implants.present", "false")
    page.get_by_role("button", name="Save form").click()
    assert f"merged into patient record {target_id}" in page.get_by_role("alert").inner_text()
    assert _submissions(web_server) == before
