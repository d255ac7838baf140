"""Search keys of new patients are written a batch at a time, and every patient is found afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical import search
from emr_core.db import session_scope
from emr_core.linking import import_registry
from emr_core.linking.names import name_key
from emr_core.models import Patient
from emr_core.models_clinical import PatientSearchKey

NAMES = [f"Nguyễn Thị Lan {n}" for n in range(10)]


def test_new_patients_are_indexed_in_batches(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "_BATCH", 3)
    with session_scope(session_factory) as session:
        session.execute(insert(Patient), [{"full_name": n, "name_key": name_key(n)} for n in NAMES])
    written: list[int] = []
    real = search.index_patients

    def counted(session: Session, rows: list[tuple[int, str]]) -> int:
        written.append(len(rows))
        return real(session, rows)

    monkeypatch.setattr(search, "index_patients", counted)
    with session_scope(session_factory) as session:
        assert search.index_new_patients(session) == 10
    assert written == [3, 3, 3, 1]
    with session_scope(session_factory) as session:
        assert search.index_new_patients(session) == 0
        assert session.scalar(select(func.count()).select_from(PatientSearchKey)) == 10
        found = search.search_patients(session, search.SearchQuery(name="lan 7")).patients
        assert [p.full_name for p in found] == ["Nguyễn Thị Lan 7"]


def _registry(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["patient_id,issuer,full_name,birth_date,sex,accession_numbers"]
    lines += [f"{pid},HIS,{name},1971-04-05,F," for pid, name in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_rename_before_the_first_search_leaves_every_patient_findable(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """A second registry import renames a patient nobody has searched for yet: its keys must not raise the
    indexed mark over the patients of the first import, or those would never be found."""
    first = [(f"P{n}", name) for n, name in enumerate(NAMES)]
    with session_scope(session_factory) as session:
        import_registry(session, _registry(tmp_path / "first.csv", first))
    with session_scope(session_factory) as session:
        import_registry(session, _registry(tmp_path / "second.csv", [("P9", "Trần Thị Mai")]))
    with session_scope(session_factory) as session:
        search.index_new_patients(session)
        assert len(search.search_patients(session, search.SearchQuery(name="nguyen lan")).patients) == 9
        assert [p.full_name for p in search.search_patients(session, search.SearchQuery(name="mai")).patients] == [
            "Trần Thị Mai"
        ]


def test_a_patient_created_after_an_import_indexes_the_imported_ones_too(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(session_factory) as session:
        import_registry(session, _registry(tmp_path / "first.csv", [(f"P{n}", name) for n, name in enumerate(NAMES)]))
    with session_scope(session_factory) as session:
        patient = Patient(full_name="Lê Thị Hoa", name_key=name_key("Lê Thị Hoa"))
        session.add(patient)
        session.flush()
        search.index_created_patient(session, patient.id, patient.full_name)
    with session_scope(session_factory) as session:
        assert not search.has_unindexed_patients(session)
        assert len(search.search_patients(session, search.SearchQuery(name="lan")).patients) == 10
        assert len(search.search_patients(session, search.SearchQuery(name="hoa")).patients) == 1
