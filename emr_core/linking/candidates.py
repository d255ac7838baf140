"""In-memory index of EMR patients for blocking: by identifier, accession, birth date, name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.models import Accession, Patient, PatientIdentifier


@lru_cache(maxsize=65536)
def near_dates(born: date) -> tuple[date, ...]:
    """Dates a birth date is commonly mistyped as: day/month swapped, year off by one."""
    found = []
    if born.day <= 12 and born.day != born.month:
        found.append(born.replace(day=born.month, month=born.day))
    for year in (y for y in (born.year - 1, born.year + 1) if MINYEAR <= y <= MAXYEAR):  # a header may say 9999
        if born.day > 28:  # a slipped year is often re-typed with a safe day
            found.append(born.replace(year=year, day=28))
        if not (born.month == 2 and born.day == 29):
            found.append(born.replace(year=year))
    return tuple(found)


def one_digit_apart(a: date, b: date) -> bool:
    """The two dates differ in one digit of YYYYMMDD (one mistyped digit)."""
    return sum(x != y for x, y in zip(_digits(a), _digits(b), strict=True)) == 1


def _digits(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"  # strftime does not pad years before 1000


@lru_cache(maxsize=16384)
def agreeing_dates(born: date) -> frozenset[date]:
    """Every date `dates_may_agree` with `born`: its slips, the dates it is a slip of, one-digit typos."""
    found: set[date | None] = {born, *near_dates(born)}
    for year in (born.year - 1, born.year + 1):  # born is the safe-day re-typing of a slipped year's 29th-31st
        found.update(_valid(year, born.month, day) for day in (29, 30, 31) if born.day == 28)
    digits = _digits(born)
    for place, digit in enumerate(digits):
        for other in "0123456789".replace(digit, ""):
            typed = digits[:place] + other + digits[place + 1 :]
            found.add(_valid(int(typed[:4]), int(typed[4:6]), int(typed[6:])))
    return frozenset(day for day in found if day is not None and dates_may_agree(born, day))


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def dates_may_agree(a: date | None, b: date | None) -> bool:
    """Nothing contradicts: a date is missing, or equal, or a common slip or one mistyped digit of the other.

    A namesake born on a date that contradicts the study's can never be a candidate worth a person's look
    (the scoring gives it at most 0.75, below every plausible candidate by the close-score margin)."""
    if a is None or b is None or a == b:
        return True
    return a in near_dates(b) or b in near_dates(a) or one_digit_apart(a, b)


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
    """What names a study's patient outright (a linker Header has these)."""

    @property
    def patient_id(self) -> str: ...
    @property
    def accession(self) -> str: ...


def chunks(values: Collection[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """`values` in sorted lists of at most `size` (sorted: the same queries for the same input)."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


@dataclass
class _NamedKeys:
    """The identifier values and accession numbers many studies carry."""

    values: set[str] = field(default_factory=set)
    accessions: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, studies: Iterable[StudyKeys]) -> _NamedKeys:
        keys = cls()
        for study in studies:
            keys.values.add(study.patient_id)
            keys.accessions.add(study.accession)
        keys.values.discard("")
        keys.accessions.discard("")
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
    # Lazy: demographic blocks are read on demand; what was read and what is asked for but not read yet.
    lazy: bool = False
    _read_dates: set[date] = field(default_factory=set, init=False, repr=False)
    _wanted_dates: set[date] = field(default_factory=set, init=False, repr=False)
    # A name-key block is read as (patient, birth date) pairs first (two narrow columns); only the members whose
    # birth date may agree with a study's are loaded: at x50 the night's name keys hold ~110,000 patients.
    _key_members: dict[str, dict[date | None, list[int]]] = field(default_factory=dict, init=False, repr=False)
    _wanted_keys: dict[str, set[date | None]] = field(default_factory=dict, init=False, repr=False)
    _wanted_ids: set[int] = field(default_factory=set, init=False, repr=False)
    # Patients created during this run, in order: a deferred review is re-made only if one could change it.
    created: list[PatientRecord] = field(default_factory=list, init=False, repr=False)
    _created_position: dict[int, int] = field(default_factory=dict, init=False, repr=False)

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
        """The patients these studies name (by identifier value or accession); the demographic blocks (name
        key, near birth dates) only when a study needs them (`fill_blocks`). The nightly run links ~1,000
        studies against 500,000 patients: reading every patient, or every patient born on one of the
        ~5,000 dates near the night's birth dates, made its cost grow with the archive."""
        keys = _NamedKeys.of(studies)
        index = cls(lazy=True)
        ids: set[int] = set()
        for value in chunks(keys.values):
            ids.update(session.scalars(select(PatientIdentifier.patient_id).where(PatientIdentifier.value.in_(value))))
        for numbers in chunks(keys.accessions):
            query = select(Accession.accession_number, Accession.patient_id).where(
                Accession.accession_number.in_(numbers)
            )
            index.by_accession.update(dict(session.execute(query).all()))
        ids.update(index.by_accession.values())
        index._load_patients(session, ids)
        return index

    @property
    def wants_blocks(self) -> bool:
        """A lazy index was asked for demographic blocks it has not read yet."""
        return bool(self._wanted_dates or self._wanted_keys or self._wanted_ids)

    def fill_blocks(self, session: Session) -> None:
        """Read the demographic blocks asked for since the last fill (patients already held are kept)."""
        ids = set(self._wanted_ids)
        for names in chunks(self._wanted_keys):
            for name in names:
                self._key_members[name] = defaultdict(list)
            members = select(Patient.id, Patient.name_key, Patient.birth_date).where(Patient.name_key.in_(names))
            for pid, key, born in session.execute(members):
                self._key_members[key][born].append(pid)
        for key, dates in self._wanted_keys.items():
            ids.update(self._agreeing_members(key, dates))
        for days in chunks(self._wanted_dates):
            ids.update(session.scalars(select(Patient.id).where(Patient.birth_date.in_(days))))
        self._load_patients(session, ids - self.records.keys())
        self._read_dates |= self._wanted_dates
        self._wanted_dates, self._wanted_keys, self._wanted_ids = set(), {}, set()

    def _agreeing_members(self, key: str, dates: Iterable[date | None]) -> Iterator[int]:
        """Members of a read name-key block, not held yet, whose birth date may agree with one of `dates`."""
        by_date = self._key_members.get(key, {})
        for born in dates:
            days: Iterable[date | None] = by_date if born is None else (None, *agreeing_dates(born))
            for day in days:
                yield from (pid for pid in by_date.get(day, ()) if pid not in self.records)

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

    def add_created(self, record: PatientRecord) -> None:
        """Register a patient this run created (a provisional one)."""
        self.add(record)
        self._created_position[record.id] = len(self.created)
        self.created.append(record)

    def created_in_reach(self, value: str, name_key: str, born: date | None, since: int) -> bool:
        """Whether a patient this run created after the first `since` is among a study's candidates: it holds
        the study's identifier value, or sits in its name-key or birth-date block."""
        if since >= len(self.created):
            return False
        ids = list(self.by_identifier_value(value).values()) if value else []
        ids += self.by_name_key.get(name_key, ()) if name_key else ()
        for day in (born, *near_dates(born)) if born is not None else ():
            ids += self.by_birth_date.get(day, ())
        return any(self._created_position.get(pid, -1) >= since for pid in ids)

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
        """Patients born on the date or a near one, and namesakes (the exact name key) whose birth date may agree
        (`dates_may_agree`): the two blocking keys. A lazy index answers with what it has read and notes the
        blocks it lacks (`wants_blocks`)."""
        days = (born, *near_dates(born)) if born is not None else ()
        if self.lazy:
            self._want(key, born, days)
        ids: set[int] = set()
        for day in days:
            ids.update(self.by_birth_date.get(day, ()))
        if key:
            namesakes = self.by_name_key.get(key, ())
            ids.update(pid for pid in namesakes if dates_may_agree(born, self.records[pid].birth_date))
        return [self.records[i] for i in sorted(ids)]

    def _want(self, key: str, born: date | None, days: tuple[date, ...]) -> None:
        """Note the blocks (or name-key members) a study needs that a lazy index has not read."""
        self._wanted_dates.update(d for d in days if d not in self._read_dates)
        if not key:
            return
        if key in self._key_members:
            self._wanted_ids.update(self._agreeing_members(key, (born,)))
        else:
            self._wanted_keys.setdefault(key, set()).add(born)
