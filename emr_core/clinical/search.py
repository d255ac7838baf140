"""Patient search by name (with or without diacritics), identifier or birth date, on indexed keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from emr_core.linking.names import name_tokens
from emr_core.models import Patient, PatientIdentifier
from emr_core.models_clinical import PatientMerge, PatientNameToken, PatientSearchKey

MAX_RESULTS = 50
_TOP = "\uffff"  # sorts after every folded letter: token >= 'ngu' AND token < 'ngu\uffff' is a prefix
_BATCH = 5000
# Name searches look at no more than this many matching patients: five pages to sort, bounded work. Past it
# the result says truncated (narrow by birth date or identifier). At 500,000 patients a common full name
# matches thousands; 2,000 made its searches take ~200 ms, 250 takes ~30-60 ms (bench/scale.py).
CANDIDATE_CAP = 250
# Enough to tell a rare name word from a common one when choosing which word drives the search.
RARITY_PROBE = 1000


@dataclass(frozen=True)
class SearchQuery:
    """Any combination narrows the result; at least one must be given."""

    name: str = ""
    identifier: str = ""
    birth_date: date | None = None
    limit: int = MAX_RESULTS


def _key_rows(patient_id: int, full_name: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    tokens = name_tokens(full_name)
    key = {"patient_id": patient_id, "folded_name": " ".join(tokens)[:200], "source_name": full_name[:200]}
    words = [{"patient_id": patient_id, "position": i, "token": t[:64]} for i, t in enumerate(tokens)]
    return key, words


def index_patients(session: Session, patients: list[tuple[int, str]]) -> int:
    """(Re)write the search keys of these (id, full name) pairs; returns how many."""
    ids = [pid for pid, _ in patients]
    if not ids:
        return 0
    session.execute(delete(PatientNameToken).where(PatientNameToken.patient_id.in_(ids)))
    session.execute(delete(PatientSearchKey).where(PatientSearchKey.patient_id.in_(ids)))
    rows = [_key_rows(pid, name) for pid, name in patients]
    session.execute(insert(PatientSearchKey), [key for key, _ in rows])
    words = [w for _, ws in rows for w in ws]
    if words:
        session.execute(insert(PatientNameToken), words)
    return len(ids)


def reindex_renamed(session: Session, patients: list[tuple[int, str]]) -> int:
    """Rewrite the keys of renamed patients up to the highest indexed id. Those above it are left to
    index_new_patients: keys for them now would raise that mark over patients never indexed (a second
    registry import before the first search), and searches would never find those."""
    mark = _indexed_mark(session)
    return index_patients(session, [(pid, name) for pid, name in patients if pid <= mark])


def index_created_patient(session: Session, patient_id: int, full_name: str) -> None:
    """Keys for a patient just created; first for patients created before it and never indexed (a registry
    import since the last search), so that the mark its keys raise stays true."""
    mark = _indexed_mark(session)
    if (session.scalar(select(func.max(Patient.id)).where(Patient.id < patient_id)) or 0) > mark:
        index_new_patients(session)
    if session.scalar(select(PatientSearchKey.patient_id).where(PatientSearchKey.patient_id == patient_id)) is None:
        index_patients(session, [(patient_id, full_name)])


def _indexed_mark(session: Session) -> int:
    """The highest indexed patient id: every patient up to it has keys."""
    return session.scalar(select(func.max(PatientSearchKey.patient_id))) or 0


def has_unindexed_patients(session: Session) -> bool:
    """True when patients were added since the last indexing (two primary-key lookups)."""
    return (session.scalar(select(func.max(Patient.id))) or 0) > _indexed_mark(session)


def index_new_patients(session: Session) -> int:
    """Index patients created since the last indexed id (cheap: a primary-key range scan), _BATCH at a time
    (every patient up to the new mark then has keys): after a registry import of 500,000 patients, all their
    names and words at once took 700 MB."""
    last, done = _indexed_mark(session), 0
    while True:
        query = select(Patient.id, Patient.full_name).where(Patient.id > last).order_by(Patient.id).limit(_BATCH)
        fresh = [(row.id, row.full_name) for row in session.execute(query)]
        if not fresh:
            return done
        try:
            with session.begin_nested():
                done += index_patients(session, fresh)
        except IntegrityError:
            return done  # a concurrent request indexed the same patients first
        last = fresh[-1][0]


def refresh_search_index(session: Session) -> int:
    """Re-index every patient whose name changed or who is missing; returns how many."""
    stale = (
        select(Patient.id, Patient.full_name)
        .outerjoin(PatientSearchKey, PatientSearchKey.patient_id == Patient.id)
        .where((PatientSearchKey.patient_id.is_(None)) | (PatientSearchKey.source_name != Patient.full_name))
    )
    rows = [(r.id, r.full_name) for r in session.execute(stale)]
    for start in range(0, len(rows), _BATCH):
        index_patients(session, rows[start : start + _BATCH])
    return len(rows)


def _token_range(column: Any, token: str) -> Any:
    return (column >= token) & (column < token + _TOP)


def _bounded_count(session: Session, token: str) -> int:
    """How many name words start with `token`, counted only up to RARITY_PROBE (index-only, cheap)."""
    hits = select(PatientNameToken.patient_id).where(_token_range(PatientNameToken.token, token)).limit(RARITY_PROBE)
    return session.scalar(select(func.count()).select_from(hits.subquery())) or 0


def _candidates(session: Session, query: SearchQuery) -> tuple[list[int], bool]:
    """Ids matching every criterion, driven by the rarest name word; capped (True when truncated)."""
    tokens = list(dict.fromkeys(name_tokens(query.name)))[:6]
    # Rarest first; among words past the probe, the longer and later one (usually the given name).
    ranked = sorted((_bounded_count(session, t), -len(t), -i, t) for i, t in enumerate(tokens))
    tokens = [t for *_, t in ranked]
    driver = PatientNameToken
    stmt = select(driver.patient_id).where(_token_range(driver.token, tokens[0])).distinct()
    for token in tokens[1:]:
        # A join on the driver's patient, not EXISTS: MariaDB materialises an EXISTS over a common word
        # (every patient named Thị, 600,000 rows at x50) before it looks at the first candidate; the join
        # checks each candidate's own few words by primary key and stops at the cap.
        other = aliased(PatientNameToken)
        stmt = stmt.join(other, and_(other.patient_id == driver.patient_id, _token_range(other.token, token)))
    if query.birth_date:
        stmt = stmt.join(Patient, Patient.id == driver.patient_id).where(Patient.birth_date == query.birth_date)
    if query.identifier:
        stmt = stmt.where(driver.patient_id.in_(_owners(query.identifier)))
    ids = list(session.scalars(stmt.limit(CANDIDATE_CAP + 1)))
    return ids[:CANDIDATE_CAP], len(ids) > CANDIDATE_CAP


def _owners(identifier: str) -> Select[Any]:  # the row type differs between SQLAlchemy 2.0 and 2.1
    return select(PatientIdentifier.patient_id).where(PatientIdentifier.value == identifier.strip())


@dataclass(frozen=True)
class SearchResult:
    """Matching patients sorted by name; `truncated` when a very common name matched too many."""

    patients: list[Patient]
    truncated: bool


def search_patients(session: Session, query: SearchQuery) -> SearchResult:
    """Patients matching every given criterion (name words match as prefixes, in any order)."""
    stmt = select(Patient).where(Patient.id.not_in(select(PatientMerge.source_patient_id)))
    truncated = False
    if name_tokens(query.name):
        ids, truncated = _candidates(session, query)
        stmt = stmt.where(Patient.id.in_(ids))
    else:
        if query.identifier:
            stmt = stmt.where(Patient.id.in_(_owners(query.identifier)))
        if query.birth_date:
            stmt = stmt.where(Patient.birth_date == query.birth_date)
    found = list(session.scalars(stmt.order_by(Patient.full_name, Patient.id).limit(query.limit)))
    return SearchResult(found, truncated or len(found) == query.limit)
