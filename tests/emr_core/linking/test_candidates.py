"""Blocking: which EMR patients a study is compared with, and what a lazy index reads to find them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.linking.candidates import PatientIndex, agreeing_dates, dates_may_agree
from emr_core.linking.linker import read_blocks
from emr_core.linking.names import name_key
from emr_core.linking.scoring import evaluate, make_header
from emr_core.models import Patient

EDGES = [
    date(1971, 4, 5),  # day <= 12: a day/month swap exists
    date(1968, 12, 12),  # day == month: no swap
    date(1980, 2, 28),  # the safe day a slipped year of the 29th-31st is re-typed with
    date(1984, 2, 29),
    date(1999, 12, 31),
    date(2000, 1, 1),
    date(1955, 7, 28),
    date(1962, 10, 30),
    date(9999, 12, 31),  # a header may say anything: no slip may step outside the calendar
    date(1, 1, 1),
]


def _around(born: date) -> list[date]:
    """Every date of the three years around `born` and of every year one digit away from its year."""
    years = {born.year - 1, born.year, born.year + 1}
    digits = f"{born.year:04d}"
    for place in range(4):
        years.update(int(digits[:place] + d + digits[place + 1 :]) for d in "0123456789")
    days: list[date] = []
    for year in sorted(y for y in years if 1 <= y <= 9999):
        first = date(year, 1, 1)
        days += [first + timedelta(days=n) for n in range((date(year, 12, 31) - first).days + 1)]
    return days


@pytest.mark.parametrize("born", EDGES)
def test_agreeing_dates_are_every_date_that_may_agree(born: date) -> None:
    """The lazy index looks namesakes up by these dates, so it must miss none the scoring would accept."""
    expected = {day for day in _around(born) if dates_may_agree(born, day)}
    assert agreeing_dates(born) == expected
    far = date(born.year + 11 if born.year < 9000 else born.year - 11, born.month % 12 + 1, 1)
    assert far not in agreeing_dates(born)  # three digits away


def _namesakes(session: Session, born: date) -> dict[str, int]:
    """Forty women named Nguyễn Thị Lan: 38 born on dates that contradict `born`, one born a digit away from
    it, one with no birth date."""
    ids = {}
    others = (date(1900 + n, 1 + n % 12, 1 + n % 27) for n in range(100))
    for day in [day for day in others if not dates_may_agree(born, day)][:38]:
        session.add(Patient(full_name="Nguyễn Thị Lan", name_key=name_key("Nguyễn Thị Lan"), sex="F", birth_date=day))
    labelled: list[tuple[str, date | None]] = [("typo", born.replace(day=born.day + 1)), ("unknown", None)]
    for label, when in labelled:
        patient = Patient(full_name="Nguyễn Thị Lan", name_key=name_key("Nguyễn Thị Lan"), sex="F", birth_date=when)
        session.add(patient)
        session.flush()
        ids[label] = patient.id
    return ids


def test_a_lazy_index_loads_only_namesakes_whose_birth_date_may_agree(session_factory: sessionmaker[Session]) -> None:
    """A common name's block is read as (patient, birth date) pairs; only members that could be the study's
    patient are loaded, and the study meets the same candidates and outcome as against every patient."""
    born = date(1971, 4, 5)
    header = make_header(1, "1.2.3", "", "", "NGUYEN^THI^LAN", born, "F", "")
    with session_scope(session_factory) as session:
        ids = _namesakes(session, born)
    with session_scope(session_factory) as session:
        whole, lazy = PatientIndex.load(session), PatientIndex.load_for(session, [header])
        read_blocks(session, lazy, [header])
    assert set(lazy.records) == {ids["typo"], ids["unknown"]}
    expected, got = evaluate(header, whole), evaluate(header, lazy)
    assert [c.record.id for c in got.candidates] == [c.record.id for c in expected.candidates]
    assert got.evidence(header) == expected.evidence(header) and got.status is expected.status
    assert {c.record.id for c in got.candidates} == {ids["typo"], ids["unknown"]}


def test_a_study_without_birth_date_meets_every_namesake(session_factory: sessionmaker[Session]) -> None:
    header = make_header(1, "1.2.3", "", "", "NGUYEN^THI^LAN", None, "F", "")
    with session_scope(session_factory) as session:
        _namesakes(session, date(1971, 4, 5))
    with session_scope(session_factory) as session:
        lazy = PatientIndex.load_for(session, [header])
        read_blocks(session, lazy, [header])
    assert len(lazy.records) == 40 and len(lazy.demographic_candidates(header.name_key, None)) == 40
