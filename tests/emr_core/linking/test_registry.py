"""Registry CSV import: upsert, idempotence, bad rows, provisional promotion, bulk speed."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.linking import registry
from emr_core.linking.registry import import_registry
from emr_core.models import Accession, Patient, PatientIdentifier

HEADER = "patient_id,issuer,full_name,birth_date,sex,accession_numbers\n"


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_import_creates_patients_identifiers_and_accessions(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    csv_path = write_csv(
        tmp_path / "r.csv",
        [
            "10000001,HIS,Nguyễn Thị Lan,1970-03-15,F,A1;A2",
            "10000002,HIS,Đặng Thu Thảo,09/05/1972,F,",
        ],
    )
    with session_scope(session_factory) as session:
        report = import_registry(session, csv_path)
    assert (report.created, report.updated, report.unchanged, report.accessions_added) == (2, 0, 0, 2)
    with session_scope(session_factory) as session:
        lan = session.scalars(
            select(Patient)
            .join(PatientIdentifier)
            .where(PatientIdentifier.value == "10000001", PatientIdentifier.issuer == "HIS")
        ).one()
        assert (lan.full_name, lan.name_key, lan.birth_date, lan.sex, lan.provisional) == (
            "Nguyễn Thị Lan",
            "lan nguyen thi",
            date(1970, 3, 15),
            "F",
            False,
        )
        owners = set(session.scalars(select(Accession.patient_id)))
        assert owners == {lan.id}
        thao = session.scalars(select(Patient).where(Patient.name_key == "dang thao thu")).one()
        assert thao.birth_date == date(1972, 5, 9)  # day-first registry date


def test_reimport_is_idempotent_and_reports_updates(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    lines = ["10000001,HIS,Nguyễn Thị Lan,1970-03-15,F,A1", "10000002,HIS,Trần Thị Mai,1965-11-02,F,"]
    csv_path = write_csv(tmp_path / "r.csv", lines)
    with session_scope(session_factory) as session:
        import_registry(session, csv_path)
    with session_scope(session_factory) as session:
        again = import_registry(session, csv_path)
        assert (again.created, again.updated, again.unchanged, again.accessions_added) == (0, 0, 2, 0)
        assert (count(session, Patient), count(session, PatientIdentifier), count(session, Accession)) == (2, 2, 1)
    lines[1] = "10000002,HIS,Trần Thị Mai,1965-11-03,F,A1"  # corrected birth date, accession moved
    with session_scope(session_factory) as session:
        changed = import_registry(session, write_csv(tmp_path / "r2.csv", lines))
    assert (changed.created, changed.updated, changed.unchanged, changed.accessions_moved) == (0, 1, 1, 1)
    with session_scope(session_factory) as session:
        mai = session.scalars(select(Patient).where(Patient.name_key == "mai thi tran")).one()
        assert mai.birth_date == date(1965, 11, 3)
        assert session.scalar(select(Accession.patient_id)) == mai.id


def test_bad_rows_are_reported_with_line_numbers_not_fatal(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    csv_path = write_csv(
        tmp_path / "r.csv",
        [
            ",HIS,No Id,1970-01-01,F,",
            "10000003,HIS,Bad Date,1970-13-45,F,",
            "10000004,HIS,Lê Ngọc Hương,1980-07-21,F,",
            "10000004,HIS,Lê Ngọc Hương,1980-07-21,F,",
        ],
    )
    with session_scope(session_factory) as session:
        report = import_registry(session, csv_path)
    assert report.created == 1
    assert [line for line, _ in report.errors] == [2, 3, 5]
    assert "missing patient_id" in report.errors[0][1]
    assert "birth date" in report.errors[1][1]
    assert "duplicate of line 4" in report.errors[2][1]


def test_import_promotes_a_provisional_patient_holding_the_identifier(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(session_factory) as session:
        patient = Patient(full_name="NGUYEN LAN THI", name_key="lan nguyen thi", provisional=True)
        session.add(patient)
        session.flush()
        session.add(PatientIdentifier(patient_id=patient.id, value="10000001", issuer="HIS"))
    with session_scope(session_factory) as session:
        report = import_registry(session, write_csv(tmp_path / "r.csv", ["10000001,HIS,Nguyễn Thị Lan,1970-03-15,F,"]))
        assert (report.created, report.updated) == (0, 1)
        promoted = session.get(Patient, patient.id)
        assert promoted is not None and not promoted.provisional
        assert promoted.full_name == "Nguyễn Thị Lan"


def test_ten_thousand_rows_import_in_a_few_seconds(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    lines = [f"{20000000 + i},HIS,Nguyễn Thị Lan {i},1970-01-{1 + i % 28:02d},F,ACC{i}" for i in range(10_000)]
    csv_path = write_csv(tmp_path / "big.csv", lines)
    started = time.perf_counter()
    with session_scope(session_factory) as session:
        report = import_registry(session, csv_path)
    first = time.perf_counter() - started
    with session_scope(session_factory) as session:
        again = import_registry(session, csv_path)
    assert report.created == 10_000 and report.accessions_added == 10_000
    assert again.unchanged == 10_000
    assert first < 10, f"import took {first:.1f} s"


def test_new_patients_are_created_in_batches_each_with_its_own_identifier_and_accession(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_CREATE_BATCH", 2)  # five rows: three batches
    lines = [f"2000000{i},HIS,Trần Thị Mai {i},1980-01-0{i + 1},F,ACC{i}" for i in range(5)]
    with session_scope(session_factory) as session:
        assert import_registry(session, write_csv(tmp_path / "r.csv", lines)).created == 5
    with session_scope(session_factory) as session:
        names = select(PatientIdentifier.value, Patient.full_name).join(Patient)
        by_value = {value: name for value, name in session.execute(names)}
        accessions = select(Accession.accession_number, PatientIdentifier.value).join(
            PatientIdentifier, PatientIdentifier.patient_id == Accession.patient_id
        )
        owners = {number: value for number, value in session.execute(accessions)}
    assert by_value == {f"2000000{i}": f"Trần Thị Mai {i}" for i in range(5)}
    assert owners == {f"ACC{i}": f"2000000{i}" for i in range(5)}
