"""Patients through the HTTP API: create, search (diacritics optional), page, corrections, merge."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.models import AuditEvent, Patient, PatientIdentifier, Study

PEOPLE = [
    ("Nguyễn Thị Lan", "1970-03-04", "BN100"),
    ("Nguyễn Thị Lành", "1982-11-30", "BN101"),
    ("Trần Văn Đức", "1955-01-09", "BN102"),
    ("Lê Thị Hồng Nhung", "1970-03-04", "BN103"),
]


def _create(api, name: str, born: str, pid: str) -> int:
    response = api.post(
        "clinician",
        "/patients",
        json={"full_name": name, "birth_date": born, "sex": "F", "identifiers": [{"value": pid, "issuer": "BVK"}]},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["full_name"] for r in response.json()["results"]]


def test_search_by_name_with_or_without_diacritics_identifier_and_birth_date(api) -> None:
    for person in PEOPLE:
        _create(api, *person)
    search = lambda **q: _names(api.get("clinician", "/patients", params=q))  # noqa: E731
    assert search(name="nguyen thi lan") == ["Nguyễn Thị Lan", "Nguyễn Thị Lành"]  # 'lan' is a prefix of 'lanh'
    assert search(name="Nguyễn Thị Lành") == ["Nguyễn Thị Lành"]
    assert search(name="LANH NGUYEN") == ["Nguyễn Thị Lành"]  # word order and case do not matter
    assert search(name="duc tran") == ["Trần Văn Đức"]  # Đ folds to d
    assert search(identifier="BN103") == ["Lê Thị Hồng Nhung"]
    assert search(birth_date="1970-03-04") == ["Lê Thị Hồng Nhung", "Nguyễn Thị Lan"]
    assert search(name="nhung", birth_date="1970-03-04") == ["Lê Thị Hồng Nhung"]
    assert search(name="nobody") == []


def test_patients_arriving_from_the_pipeline_are_searchable(api, session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:  # as the registry import or the linker would add them
        session.add(Patient(full_name="Phạm Thị Thu", name_key="pham thi thu"))
    assert _names(api.get("clinician", "/patients", params={"name": "pham thu"})) == ["Phạm Thị Thu"]


def test_patient_page_and_demographics_correction_are_audited(api, session_factory) -> None:
    pid = _create(api, "Ngô Thị Mai", "1968-07-01", "BN200")
    changed = api.patch("clinician", f"/patients/{pid}", json={"full_name": "Ngô Thị Mây", "birth_date": "1968-07-02"})
    assert changed.status_code == 200 and changed.json()["changed"] == ["birth_date", "full_name"]
    page = api.get("clinician", f"/patients/{pid}").json()
    assert (page["full_name"], page["birth_date"], page["identifiers"]) == (
        "Ngô Thị Mây",
        "1968-07-02",
        [{"value": "BN200", "issuer": "BVK"}],
    )
    assert _names(api.get("clinician", "/patients", params={"name": "ngo may"})) == ["Ngô Thị Mây"]
    with session_scope(session_factory) as session:
        trail = session.execute(
            select(AuditEvent.action, AuditEvent.user_id)
            .where(AuditEvent.patient_ref == f"emr:{pid}")
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(t) for t in trail] == [("C", "clinician"), ("U", "clinician"), ("R", "clinician")]


def _count(factory: sessionmaker[Session], model: type) -> int:
    with session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_malformed_input_names_the_field_and_writes_nothing(api, session_factory) -> None:
    before = (_count(session_factory, Patient), _count(session_factory, AuditEvent))
    cases = [
        ({"full_name": "", "sex": "F"}, "full_name"),
        ({"full_name": "Ok Name", "birth_date": "1970-02-31"}, "birth_date"),
        ({"full_name": "Ok Name", "sex": "female"}, "sex"),
        ({"full_name": "Ok Name", "identifiers": [{"issuer": "X"}]}, "identifiers.0.value"),
        ({"full_name": "Ok Name", "shoe_size": 38}, "shoe_size"),
    ]
    for body, field in cases:
        response = api.post("clinician", "/patients", json=body)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
        assert field in response.json()["detail"]
    assert (
        api.get("clinician", "/patients", params={"birth_date": "yesterday"}).json()["errors"][0]["field"]
        == "birth_date"
    )
    assert api.get("clinician", "/patients").json()["errors"][0]["field"] == "name"
    assert (_count(session_factory, Patient), _count(session_factory, AuditEvent)) == before


def test_duplicate_identifier_is_a_conflict_and_writes_nothing(api, session_factory) -> None:
    _create(api, "Vũ Thị Hoa", "1975-05-05", "BN300")
    before = _count(session_factory, Patient)
    response = api.post(
        "clinician",
        "/patients",
        json={"full_name": "Someone Else", "identifiers": [{"value": "BN300", "issuer": "BVK"}]},
    )
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "identifiers"
    assert _count(session_factory, Patient) == before


def test_merge_moves_records_and_leaves_an_audit_trail(api, session_factory) -> None:
    target = _create(api, "Đỗ Thị Hạnh", "1966-06-06", "BN400")
    source = _create(api, "Do Thi Hanh", "1966-06-06", "OLD-77")
    with session_scope(session_factory) as session:
        session.add(Study(study_uid="1.2.3.400", patient_id=source, accession_number="A400"))
    assert api.post("clinician", f"/patients/{target}/merge", json={"source_patient_id": source}).status_code == 403
    merged = api.post("admin", f"/patients/{target}/merge", json={"source_patient_id": source, "reason": "same person"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["studies"] == 1 and merged.json()["moved"]["identifiers"] == 1
    page = api.get("clinician", f"/patients/{target}").json()
    assert {i["value"] for i in page["identifiers"]} == {"BN400", "OLD-77"} and len(page["studies"]) == 1
    assert api.get("clinician", f"/patients/{source}").json()["merged_into"] == target
    assert _names(api.get("clinician", "/patients", params={"name": "do thi hanh"})) == ["Đỗ Thị Hạnh"]
    again = api.post("admin", f"/patients/{target}/merge", json={"source_patient_id": source})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "source_patient_id"
    with session_scope(session_factory) as session:
        trail = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "patient_merge")).all()
        owners = session.scalars(select(PatientIdentifier.patient_id)).all()
    assert {e.patient_ref for e in trail} == {f"emr:{source}", f"emr:{target}"}
    assert all(e.detail["moved"]["studies"] for e in trail) and set(owners) == {target}


def test_very_common_names_give_a_bounded_page_flagged_truncated(api, monkeypatch) -> None:
    monkeypatch.setattr("emr_core.clinical.search.CANDIDATE_CAP", 2)
    for n, born in enumerate(("1960-01-01", "1961-01-01", "1962-01-01", "1963-01-01")):
        _create(api, "Nguyễn Thị Hoa", born, f"BN50{n}")
    common = api.get("clinician", "/patients", params={"name": "nguyen thi"}).json()
    assert (common["count"], common["truncated"]) == (2, True)
    # Other criteria narrow the search before the cap applies, so a rare match is never cut off.
    narrowed = api.get("clinician", "/patients", params={"name": "nguyen thi", "birth_date": "1963-01-01"}).json()
    assert ([r["birth_date"] for r in narrowed["results"]], narrowed["truncated"]) == (["1963-01-01"], False)
