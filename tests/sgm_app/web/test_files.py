"""Files in the browser: upload with progress, list, preview an image and a PDF, download; a wrong type is refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from emr_core.db import session_scope
from emr_core.models import Patient
from emr_core.models_clinical import PatientFile
from tests.sgm_app.web.webenv import BOTH_BACKENDS, WebServer, sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("L", (64, 48), 128).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def _patient_id(server: WebServer) -> int:
    with session_scope(server.sessions) as session:
        return int(session.scalar(select(func.max(Patient.id))))


@BOTH_BACKENDS
def test_upload_preview_and_download(page: Any, web_server: WebServer, tmp_path: Path) -> None:
    pid = _patient_id(web_server)
    sign_in(page, "clinician", f"/ui/patients/{pid}/files")
    page.get_by_label("File (PDF, PNG, JPEG or plain text)").set_input_files(str(_png(tmp_path / "breast-us.png")))
    page.get_by_label("Category").select_option("prior_report")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").wait_for()
    assert page.get_by_role("status").inner_text() == "File uploaded."
    assert page.locator("#upload-progress").count() == 0  # now on the preview page
    image = page.get_by_role("img", name="breast-us.png")
    image.wait_for()
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 64
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    assert info.value.suggested_filename == "breast-us.png"
    downloaded = Path(info.value.path()).read_bytes()
    assert downloaded == (tmp_path / "breast-us.png").read_bytes()

    page.goto(f"/ui/patients/{pid}/files")
    (tmp_path / "pathology.pdf").write_bytes(PDF)
    page.get_by_label("File (PDF, PNG, JPEG or plain text)").set_input_files(str(tmp_path / "pathology.pdf"))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").wait_for()
    pdf = page.locator("object[type='application/pdf']")
    reply = page.request.get(pdf.get_attribute("data"))
    assert reply.status == 200 and reply.headers["content-type"] == "application/pdf" and reply.body() == PDF
    page.goto(f"/ui/patients/{pid}/files")
    names = page.locator("tbody td:first-child").all_inner_texts()
    assert "breast-us.png" in names and "pathology.pdf" in names


@BOTH_BACKENDS
def test_a_disguised_file_is_refused_beside_the_field(page: Any, web_server: WebServer, tmp_path: Path) -> None:
    pid = _patient_id(web_server)
    with session_scope(web_server.sessions) as session:
        before = session.scalar(select(func.count()).select_from(PatientFile))
    sign_in(page, "clinician", f"/ui/patients/{pid}/files")
    fake = tmp_path / "report.pdf"
    fake.write_bytes(b"MZ\x90\x00 not a pdf")
    page.get_by_label("File (PDF, PNG, JPEG or plain text)").set_input_files(str(fake))
    page.get_by_role("button", name="Upload").click()
    error = page.locator("#f-file-error")
    error.wait_for()
    assert error.inner_text().startswith("This kind of file is not accepted")
    with session_scope(web_server.sessions) as session:
        assert session.scalar(select(func.count()).select_from(PatientFile)) == before
