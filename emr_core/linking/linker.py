"""Link studies to EMR patients in bulk: the public entry point `link_studies`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, insert, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from emr_core.db import session_scope
from emr_core.enums import LedgerStage, LinkMethod, LinkStatus
from emr_core.linking.candidates import PatientIndex, PatientRecord
from emr_core.linking.link_audit import audit_decisions
from emr_core.linking.scoring import Header, Outcome, evaluate, make_header
from emr_core.models import LedgerEntry, LinkDecision, Patient, PatientIdentifier, Study, utcnow

CHUNK_SIZE = 1000  # studies per transaction: bounded memory, short locks
# Up to this many studies, the linker reads only the patients they can match (a nightly run); above it,
# every patient in one pass, which is cheaper than tens of thousands of keyed lookups (a first import).
CANDIDATE_INDEX_MAX_STUDIES = 50_000
PROGRESS_MIN_STUDIES = 200


@dataclass(frozen=True)
class CurrentDecision:
    """The current decision of a study being re-examined."""

    status: str
    patient_id: int | None
    inputs: str | None


@dataclass(frozen=True)
class PendingStudy:
    header: Header
    current: CurrentDecision | None


@dataclass
class LinkReport:
    """Counts of one run: links by method, review queue additions, new provisional patients."""

    examined: int = 0
    linked: Counter[str] = field(default_factory=Counter)
    review: int = 0
    provisional_patients: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    @property
    def total_linked(self) -> int:
        return sum(self.linked.values())


def link_studies(
    session_factory: sessionmaker[Session], *, only_pending: bool = True, progress: bool = False
) -> LinkReport:
    """Link studies to patients; only_pending=False re-examines every non-manual decision."""
    started = time.perf_counter()
    report = LinkReport()
    with session_scope(session_factory) as session:
        pending = load_pending(session, only_pending)
        index = patient_index(session, pending)
    report.examined = len(pending)
    deferred: list[Deferred] = []
    with tqdm(
        total=len(pending), unit="study", desc="linking", disable=not progress or len(pending) < PROGRESS_MIN_STUDIES
    ) as bar:
        for start in range(0, len(pending), CHUNK_SIZE):
            chunk = pending[start : start + CHUNK_SIZE]
            with session_scope(session_factory) as session:
                _link_chunk(session, index, chunk, report, deferred)
            bar.update(len(chunk))
    # Reviews are decided last, against every provisional patient this run created, so
    # that the next run sees the same candidates and changes nothing.
    with session_scope(session_factory) as session:
        decide_deferred(session, index, deferred, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def patient_index(session: Session, pending: Sequence[PendingStudy]) -> PatientIndex:
    """The patients the pending studies are compared with (see CANDIDATE_INDEX_MAX_STUDIES)."""
    if len(pending) > CANDIDATE_INDEX_MAX_STUDIES:
        return PatientIndex.load(session)
    return PatientIndex.load_for(session, (item.header for item in pending))


def load_pending(session: Session, only_pending: bool) -> list[PendingStudy]:
    """Studies to examine: undecided or in review (all non-manual ones if not only_pending)."""
    return [_pending(row) for row in session.execute(pending_query(only_pending))]


def pending_query(only_pending: bool) -> Select[Any]:
    """The query behind load_pending, in study order."""
    current = and_(LinkDecision.study_id == Study.id, LinkDecision.is_current.is_(True))
    retry = (
        LinkDecision.status == LinkStatus.REVIEW.value
        if only_pending
        else LinkDecision.status != LinkStatus.MANUAL.value
    )
    # Undecided and in-review studies have no patient: that indexed test keeps the nightly run from
    # scanning every study of the archive (2.8 s at x50) for its ~1,000 new ones.
    unlinked = Study.patient_id.is_(None) if only_pending else true()
    query = (
        select(
            Study.id,
            Study.study_uid,
            Study.dicom_patient_id,
            Study.dicom_issuer,
            Study.dicom_patient_name,
            Study.dicom_birth_date,
            Study.dicom_sex,
            Study.accession_number,
            LinkDecision.id,
            LinkDecision.status,
            LinkDecision.patient_id,
            LinkDecision.evidence,
        )
        .outerjoin(LinkDecision, current)
        .where(unlinked, or_(LinkDecision.id.is_(None), retry))
        .order_by(Study.id)
    )
    return cast("Select[Any]", query)  # the row type differs between SQLAlchemy 2.0 and 2.1


def _pending(row: Any) -> PendingStudy:
    """Build a PendingStudy from one row of load_pending's query."""
    header = make_header(*row[:8])
    decision_id, status, patient_id, evidence = row[8:]
    if decision_id is None:
        return PendingStudy(header, None)
    inputs = evidence.get("inputs") if isinstance(evidence, dict) else None
    return PendingStudy(header, CurrentDecision(str(status), patient_id, inputs))


@dataclass(frozen=True)
class Deferred:
    """A study that went to review in the first pass, with that outcome and how many patients the run had
    created by then."""

    item: PendingStudy
    outcome: Outcome
    known: int


def _link_chunk(
    session: Session,
    index: PatientIndex,
    chunk: Sequence[PendingStudy],
    report: LinkReport,
    deferred: list[Deferred] | None,
) -> None:
    """Evaluate each study in memory, create provisional patients, write changes in bulk."""
    read_blocks(session, index, [item.header for item in chunk])
    changes: list[tuple[int, int | None, dict[str, object]]] = []
    for item in chunk:
        outcome = evaluate(item.header, index)
        if deferred is not None and outcome.status is LinkStatus.REVIEW:
            deferred.append(Deferred(item, outcome, len(index.created)))
            continue
        if outcome.method is LinkMethod.PROVISIONAL and outcome.status is LinkStatus.AUTO:
            outcome.patient_id = create_provisional(session, index, item.header)
            report.provisional_patients += 1
        evidence = outcome.evidence(item.header)
        if _unchanged(item.current, outcome, str(evidence["inputs"])):
            report.unchanged += 1
            continue
        changes.append((item.header.study_id, outcome.patient_id, _decision_row(item.header, outcome, evidence)))
        if outcome.status is LinkStatus.REVIEW:
            report.review += 1
        else:
            report.linked[str(outcome.method)] += 1
    if changes:
        write_decisions(session, changes)


def read_blocks(session: Session, index: PatientIndex, headers: Sequence[Header]) -> None:
    """Read the demographic blocks these studies will ask a lazy index for, in a few queries."""
    if not index.lazy:
        return
    for header in headers:
        evaluate(header, index)  # no side effects: it only notes the blocks it lacks
    if index.wants_blocks:
        index.fill_blocks(session)


def decide_deferred(session: Session, index: PatientIndex, deferred: list[Deferred], report: LinkReport) -> None:
    """Decide the reviews of this run last, against the provisional patients it created, so that the next
    run sees the same candidates; a review is re-evaluated only if a patient added since could change it."""
    changed = [d.item for d in deferred if _could_change(index, d)]
    again = {id(item) for item in changed}
    settled = [d for d in deferred if id(d.item) not in again]
    _write_reviews(session, settled, report)
    _link_chunk(session, index, changed, report, None)


def _could_change(index: PatientIndex, deferred: Deferred) -> bool:
    header = deferred.item.header
    return index.created_in_reach(header.patient_id, header.name_key, header.birth_date, deferred.known)


def _write_reviews(session: Session, settled: list[Deferred], report: LinkReport) -> None:
    """Write the first-pass review outcomes that nothing since could change."""
    changes: list[tuple[int, int | None, dict[str, object]]] = []
    for d in settled:
        evidence = d.outcome.evidence(d.item.header)
        if _unchanged(d.item.current, d.outcome, str(evidence["inputs"])):
            report.unchanged += 1
            continue
        changes.append((d.item.header.study_id, None, _decision_row(d.item.header, d.outcome, evidence)))
        report.review += 1
    if changes:
        write_decisions(session, changes)


def _unchanged(cur: CurrentDecision | None, outcome: Outcome, inputs: str) -> bool:
    """Re-running must not rewrite a decision whose result (or review inputs) is the same."""
    if cur is None or cur.status != outcome.status:
        return False
    if outcome.status is LinkStatus.REVIEW:
        return cur.inputs == inputs
    return cur.patient_id == outcome.patient_id


def _decision_row(header: Header, outcome: Outcome, evidence: dict[str, object]) -> dict[str, object]:
    """A LinkDecision insert row for an automatic outcome."""
    return {
        "study_id": header.study_id,
        "patient_id": outcome.patient_id,
        "method": str(outcome.method),
        "status": str(outcome.status),
        "score": outcome.score,
        "evidence": evidence,
        "is_current": True,
        "decided_by": "linker",
        "decided_at": utcnow(),
    }


def create_provisional(session: Session, index: PatientIndex, header: Header) -> int:
    """Insert a provisional patient from the header (and its identifier when still free)."""
    name = " ".join(header.name.replace("^", " ").split())
    # Session.execute is typed as a plain Result; an INSERT returns a CursorResult, which has the key.
    result = cast(
        CursorResult[Any],
        session.execute(
            insert(Patient).values(
                full_name=name[:200],
                name_key=header.name_key[:200],
                birth_date=header.birth_date,
                sex=header.sex,
                provisional=True,
                created_at=utcnow(),
            )
        ),
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the new provisional patient")
    patient_id = int(key[0])
    index.add_created(PatientRecord(patient_id, header.name_key, header.birth_date, header.sex, True))
    key = (header.patient_id, header.issuer)
    if header.patient_id and key not in index.by_identifier:
        session.execute(
            insert(PatientIdentifier).values(patient_id=patient_id, value=header.patient_id, issuer=header.issuer)
        )
        index.add_identifier(patient_id, *key)
    return patient_id


def write_decisions(session: Session, decisions: list[tuple[int, int | None, dict[str, object]]]) -> None:
    """Supersede current decisions, insert the new ones, set Study.patient_id, record ledger."""
    study_ids = [study_id for study_id, _, _ in decisions]
    audit_decisions(session, decisions)  # before superseding: it names the patients losing a study
    session.execute(
        update(LinkDecision)
        .where(LinkDecision.study_id.in_(study_ids), LinkDecision.is_current.is_(True))
        .values(is_current=False)
    )
    session.execute(insert(LinkDecision), [row for _, _, row in decisions])
    session.execute(update(Study), [{"id": s, "patient_id": p} for s, p, _ in decisions])
    record_linked(session, [(s, str(row["method"])) for s, p, row in decisions if p is not None])


def record_linked(session: Session, linked: list[tuple[int, str]]) -> None:
    """Add the `linked` ledger stage for studies that do not have it yet."""
    if not linked:
        return
    ids = [study_id for study_id, _ in linked]
    done = set(
        session.scalars(
            select(LedgerEntry.study_id).where(
                LedgerEntry.stage == LedgerStage.LINKED.value, LedgerEntry.study_id.in_(ids)
            )
        )
    )
    rows = [
        {"study_id": s, "stage": LedgerStage.LINKED.value, "detail": f"method={m}", "completed_at": utcnow()}
        for s, m in linked
        if s not in done
    ]
    if rows:
        session.execute(insert(LedgerEntry), rows)
