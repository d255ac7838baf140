"""A merged-away record in the browser: its edit and form pages, and writes started before the merge, are refused
with 409 naming the surviving record (as the REST API does); nothing is written to it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from emr_core.clinical.patients import merge_patients
from emr_core.db import session_scope
from emr_core.models import Patient
from emr_core.models_clinical import PatientFile
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _pair(server: WebServer) -> tuple[int, int]:
    """Two records of one person: (the one to be merged away, the survivor)."""
    with session_scope(server.sessions) as session:
        source = Patient(full_name="Phạm Thị Gộp", birth_date=date(1968, 3, 4), sex="F")
        target = Patient(full_name="Pham Thi Gop", birth_date=date(1968, 3, 4), sex="F")
        session.add_all([source, target])
        session.flush()
        return source.id, target.id


def _merge(server: WebServer, source: int, target: int) -> None:
    with session_scope(server.sessions) as session:
        merge_patients(session, source, target, "data_steward")


def _refused(page: Any, status: int, survivor: int) -> None:
    assert status == 409
    assert f"merged into patient record {survivor}" in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name="Open the surviving record").click()
    assert page.url.endswith(f"/ui/patients/{survivor}")


@BOTH_BACKENDS
def test_edit_and_form_pages_of_a_merged_away_record_name_the_survivor(page: Any, web_server: WebServer) -> None:
    source, target = _pair(web_server)
    _merge(web_server, source, target)
    sign_in(page, "clinician", f"/ui/patients/{source}")
    assert page.get_by_role("alert").inner_text().startswith("This record was merged into")
    assert page.get_by_role("link", name="Edit demographics").count() == 0
    for path in ("edit", "forms/breast_screening_intake/fill"):
        _refused(page, page.goto(f"/ui/patients/{source}/{path}").status, target)
    page.goto(f"/ui/patients/{source}/files")
    assert page.get_by_role("button", name="Upload").count() == 0
    assert f"#{target}" in page.get_by_role("alert").inner_text()
    page.goto(f"/ui/patients/{source}/forms")
    assert page.get_by_role("heading", name="Fill a form").count() == 0
    assert f"#{target}" in page.get_by_role("alert").inner_text()


@BOTH_BACKENDS
def test_edits_and_uploads_begun_before_the_merge_are_refused(page: Any, web_server: WebServer, tmp_path: Path) -> None:
    source, target = _pair(web_server)
    sign_in(page, "clinician", f"/ui/patients/{source}/edit")
    _merge(web_server, source, target)  # while the clinician has the form open
    page.get_by_label("Full name").fill("Phạm Thị Gộp Sửa")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save").click()
    _refused(page, answer.value.status, target)
    with session_scope(web_server.sessions) as session:
        assert session.get(Patient, source).full_name == "Phạm Thị Gộp"

    other, survivor = _pair(web_server)
    page.goto(f"/ui/patients/{other}/files")
    _merge(web_server, other, survivor)
    (tmp_path / "referral.pdf").write_bytes(PDF)
    page.get_by_label("File (PDF, PNG, JPEG or plain text)").set_input_files(str(tmp_path / "referral.pdf"))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Upload").click()
    page.get_by_role("alert").wait_for()
    _refused(page, answer.value.status, survivor)
    with session_scope(web_server.sessions) as session:
        owned = select(func.count()).select_from(PatientFile).where(PatientFile.patient_id.in_([other, survivor]))
        assert session.scalar(owned) == 0
