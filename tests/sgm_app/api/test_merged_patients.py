"""Writes to a merged-away record (issue point 5): refused with 409 naming the surviving patient."""

from __future__ import annotations

from sqlalchemy import func, select

from emr_core.db import session_scope
from emr_core.models import Patient
from emr_core.models_clinical import FormSubmission, PatientFile, Task

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
INTAKE_MIN = {"symptoms": {"any": False}}


def _owned(session_factory, patient_id: int) -> dict[str, int]:
    with session_scope(session_factory) as session:
        return {
            model.__name__: session.scalar(
                select(func.count()).select_from(model).where(model.patient_id == patient_id)
            )
            or 0
            for model in (Task, FormSubmission, PatientFile)
        }


def test_every_write_to_a_merged_away_patient_is_a_409_naming_the_survivor(api, session_factory) -> None:
    new = lambda name: api.post("clinician", "/patients", json={"full_name": name}).json()["id"]  # noqa: E731
    retired, survivor = new("Vũ Thị Mai"), new("Vu Thi Mai")
    assert api.post("admin", f"/patients/{survivor}/merge", json={"source_patient_id": retired}).status_code == 200
    writes = [
        api.patch("clinician", f"/patients/{retired}", json={"full_name": "Vũ Thị Mai Anh", "sex": "F"}),
        api.post("clinician", f"/patients/{retired}/tasks", json={"title": "call back", "due_date": "2031-01-01"}),
        api.post(
            "clinician",
            f"/patients/{retired}/files",
            files={"file": ("r.pdf", PDF, "application/pdf")},
            data={"category": "referral"},
        ),
        api.post("clinician", f"/patients/{retired}/forms/breast_screening_intake", json={"data": INTAKE_MIN}),
    ]
    for response in writes:
        assert response.status_code == 409, response.text
        assert f"merged into patient {survivor}" in response.json()["detail"]
        assert response.json()["errors"] == [{"field": "patient_id", "message": f"merged into patient {survivor}"}]
    assert _owned(session_factory, retired) == {"Task": 0, "FormSubmission": 0, "PatientFile": 0}
    with session_scope(session_factory) as session:
        assert session.get(Patient, retired).full_name == "Vũ Thị Mai"
    # The survivor accepts the same writes.
    assert (
        api.post("clinician", f"/patients/{survivor}/tasks", json={"title": "t", "due_date": "2031-01-01"}).status_code
        == 201
    )
    assert api.patch("clinician", f"/patients/{survivor}", json={"sex": "F"}).status_code == 200
