"""Search keys of new patients are written a batch at a time, and every new patient is found afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical import search
from emr_core.db import session_scope
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
