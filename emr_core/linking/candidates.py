"""In-memory index of EMR patients for blocking: by identifier, accession, birth date, name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.models import Accession, Patient, PatientIdentifier


def near_dates(born: date) -> list[date]:
    """Dates a birth date is commonly mistyped as: day/month swapped, year off by one."""
    found = []
    if born.day <= 12 and born.day != born.month:
        found.append(born.replace(day=born.month, month=born.day))
    for year in (born.year - 1, born.year + 1):
        if born.day > 28:  # a slipped year is often re-typed with a safe day
            found.append(born.replace(year=year, day=28))
        if not (born.month == 2 and born.day == 29):
            found.append(born.replace(year=year))
    return found


@dataclass
class PatientRecord:
    """What the linker compares against: one patient's demographics and identifiers."""

    id: int
    name_key: str
    birth_date: date | None
    sex: str | None
    provisional: bool
    identifiers: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self) -> dict[str, object]:
        """JSON-ready view stored with a decision's candidates."""
        return {
            "patient_id": self.id,
            "name_key": self.name_key,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "provisional": self.provisional,
            "identifiers": [f"{issuer}:{value}" for value, issuer in sorted(self.identifiers)],
        }


# Values per IN list: well under every backend's parameter limit (SQLite's is 32,766).
IN_CHUNK = 1000


class StudyKeys(Protocol):
    """What a study can be matched by (a linker Header has these)."""

    @property
    def patient_id(self) -> str: ...
    @property
    def accession(self) -> str: ...
    @property
    def name_key(self) -> str: ...
    @property
    def birth_date(self) -> date | None: ...


def chunks(values: Collection[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """`values` in sorted lists of at most `size` (sorted: the same queries for the same input)."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


@dataclass
class _BlockingKeys:
    """The values the linker's blocks look up, gathered from many studies."""

    values: set[str] = field(default_factory=set)
    accessions: set[str] = field(default_factory=set)
    name_keys: set[str] = field(default_factory=set)
    birth_dates: set[date] = field(default_factory=set)

    @classmethod
    def of(cls, studies: Iterable[StudyKeys]) -> _BlockingKeys:
        keys = cls()
        for study in studies:
            keys.values.add(study.patient_id)
            keys.accessions.add(study.accession)
            keys.name_keys.add(study.name_key)
            if study.birth_date is not None:
                keys.birth_dates.update((study.birth_date, *near_dates(study.birth_date)))
        for found in (keys.values, keys.accessions, keys.name_keys):
            found.discard("")
        return keys


@dataclass
class PatientIndex:
    """Every patient loaded once, with the dictionaries used to find candidates quickly."""

    records: dict[int, PatientRecord] = field(default_factory=dict)
    by_identifier: dict[tuple[str, str], int] = field(default_factory=dict)
    issuers_by_value: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    by_accession: dict[str, int] = field(default_factory=dict)
    by_birth_date: dict[date, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_name_key: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, session: Session) -> PatientIndex:
        """Read patients, identifiers and accessions in three queries."""
        index = cls()
        stmt = select(Patient.id, Patient.name_key, Patient.birth_date, Patient.sex, Patient.provisional)
        for pid, key, born, sex, prov in session.execute(stmt):
            index.add(PatientRecord(pid, key, born, sex, bool(prov)))
        ids = select(PatientIdentifier.patient_id, PatientIdentifier.value, PatientIdentifier.issuer)
        for pid, value, issuer in session.execute(ids):
            index.add_identifier(pid, value, issuer)
        accessions = select(Accession.accession_number, Accession.patient_id)
        index.by_accession.update(dict(session.execute(accessions).all()))
        return index

    @classmethod
    def load_for(cls, session: Session, studies: Iterable[StudyKeys]) -> PatientIndex:
        """Only the patients these studies can match: by identifier value, accession, name key or a near
        birth date. The nightly run links ~1,000 studies against an archive of 500,000 patients: reading
        every patient each night made its cost grow with the archive instead of with the new studies."""
        keys = _BlockingKeys.of(studies)
        index = cls()
        ids: set[int] = set()
        for value in chunks(keys.values):
            ids.update(session.scalars(select(PatientIdentifier.patient_id).where(PatientIdentifier.value.in_(value))))
        for numbers in chunks(keys.accessions):
            query = select(Accession.accession_number, Accession.patient_id).where(
                Accession.accession_number.in_(numbers)
            )
            index.by_accession.update(dict(session.execute(query).all()))
        ids.update(index.by_accession.values())
        for names in chunks(keys.name_keys):
            ids.update(session.scalars(select(Patient.id).where(Patient.name_key.in_(names))))
        for days in chunks(keys.birth_dates):
            ids.update(session.scalars(select(Patient.id).where(Patient.birth_date.in_(days))))
        index._load_patients(session, ids)
        return index

    def _load_patients(self, session: Session, ids: Collection[int]) -> None:
        """Add these patients with every identifier they hold."""
        for chunk in chunks(ids):
            query = select(Patient.id, Patient.name_key, Patient.birth_date, Patient.sex, Patient.provisional)
            for pid, key, born, sex, prov in session.execute(query.where(Patient.id.in_(chunk))):
                self.add(PatientRecord(pid, key, born, sex, bool(prov)))
        for chunk in chunks(ids):
            held = select(PatientIdentifier.patient_id, PatientIdentifier.value, PatientIdentifier.issuer)
            for pid, value, issuer in session.execute(held.where(PatientIdentifier.patient_id.in_(chunk))):
                self.add_identifier(pid, value, issuer)

    def add(self, record: PatientRecord) -> None:
        """Register a patient (also one created during a run) in every block."""
        self.records[record.id] = record
        if record.birth_date is not None:
            self.by_birth_date[record.birth_date].append(record.id)
        if record.name_key:
            self.by_name_key[record.name_key].append(record.id)
        for value, issuer in list(record.identifiers):
            self.add_identifier(record.id, value, issuer, attach=False)

    def add_identifier(self, patient_id: int, value: str, issuer: str, attach: bool = True) -> None:
        """Register one (value, issuer) identifier of a known patient."""
        if attach:
            self.records[patient_id].identifiers.append((value, issuer))
        self.by_identifier[(value, issuer)] = patient_id
        self.issuers_by_value[value][issuer] = patient_id

    def by_identifier_value(self, value: str) -> dict[str, int]:
        """issuer -> patient id for an identifier value, across all issuers."""
        return self.issuers_by_value.get(value, {})

    def demographic_candidates(self, key: str, born: date | None) -> list[PatientRecord]:
        """Patients sharing the birth date or the exact name key (the two blocking keys)."""
        ids: set[int] = set(self.by_name_key.get(key, ())) if key else set()
        if born is not None:
            for day in (born, *near_dates(born)):
                ids.update(self.by_birth_date.get(day, ()))
        return [self.records[i] for i in sorted(ids)]
