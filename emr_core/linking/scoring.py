"""Compare a study header with candidate patients: name, birth date and sex scores."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from emr_core.enums import LinkMethod, LinkStatus
from emr_core.linking.candidates import PatientIndex, PatientRecord, dates_may_agree
from emr_core.linking.names import name_key, name_similarity
from emr_core.linking.registry import normalise_sex

# A typo in a three-word name keeps ~0.93; unrelated names sharing "nguyen thi" land near 0.75.
AUTO_NAME_SIMILARITY = 0.85
REVIEW_NAME_SIMILARITY = 0.80
REVIEW_NEAR_NAME_SIMILARITY = 0.90
CONTRADICTING_NAME_SIMILARITY = 0.50
CLOSE_SCORE_MARGIN = 0.05
MAX_EVIDENCE_CANDIDATES = 10
VIA_IDENTIFIER = "identifier"
VIA_IDENTIFIER_NO_ISSUER = "identifier_without_issuer"
VIA_ACCESSION = "accession"
VIA_DEMOGRAPHICS = "demographics"
# Confidence of an uncontradicted strong match; an issuer-less identifier may collide.
_CONFIDENCE = {VIA_IDENTIFIER: 1.0, VIA_ACCESSION: 0.95, VIA_IDENTIFIER_NO_ISSUER: 0.9}
_BIRTH_DATE_WEIGHT = {"exact": 1.0, "near": 0.6, "missing": 0.5, "different": 0.0}


class DateMatch(StrEnum):
    EXACT = "exact"
    NEAR = "near"
    MISSING = "missing"
    DIFFERENT = "different"


@dataclass(frozen=True)
class Header:
    """The patient identity a study's DICOM header carries, normalised once."""

    study_id: int
    study_uid: str
    patient_id: str
    issuer: str
    name: str
    birth_date: date | None
    sex: str | None
    accession: str
    name_key: str

    def snapshot(self) -> dict[str, object]:
        """JSON-ready view stored in a decision's evidence."""
        return {
            "patient_id": self.patient_id,
            "issuer": self.issuer,
            "name": self.name,
            "name_key": self.name_key,
            "sex": self.sex,
            "accession": self.accession,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
        }


def make_header(
    study_id: int, study_uid: str, pid: str, issuer: str, name: str, born: date | None, sex: str, accession: str
) -> Header:
    """Build a Header from Study columns, normalising blanks and sex codes."""
    return Header(
        study_id,
        study_uid,
        (pid or "").strip(),
        (issuer or "").strip(),
        name or "",
        born,
        normalise_sex(sex or ""),
        (accession or "").strip(),
        name_key(name or ""),
    )


@dataclass(frozen=True)
class CandidateScore:
    """How well one patient matches a header, with the compared values."""

    record: PatientRecord
    via: str
    name_similarity: float
    birth_date: DateMatch
    sex_agrees: bool
    score: float

    def to_json(self) -> dict[str, object]:
        """Candidate entry for LinkDecision.evidence."""
        return {
            **self.record.snapshot(),
            "via": self.via,
            "score": self.score,
            "name_similarity": self.name_similarity,
            "birth_date_match": str(self.birth_date),
            "sex_agrees": self.sex_agrees,
        }


@lru_cache(maxsize=65536)  # a study meets the same few candidate dates many times (its birth-date block)
def compare_dates(header: date | None, patient: date | None) -> DateMatch:
    """Classify two birth dates: equal, a common slip, unknown, or different."""
    if header is None or patient is None:
        return DateMatch.MISSING
    if header == patient:
        return DateMatch.EXACT
    return DateMatch.NEAR if dates_may_agree(header, patient) else DateMatch.DIFFERENT


def score_candidate(header: Header, record: PatientRecord, via: str) -> CandidateScore:
    """Score one candidate: 0.75 name similarity + 0.25 birth date agreement."""
    similarity = name_similarity(header.name_key, record.name_key)
    dates = compare_dates(header.birth_date, record.birth_date)
    sex_agrees = not (header.sex in ("F", "M") and record.sex in ("F", "M") and header.sex != record.sex)
    score = round(0.75 * similarity + 0.25 * _BIRTH_DATE_WEIGHT[dates], 4)
    return CandidateScore(record, via, similarity, dates, sex_agrees, score)


def contradictions(cand: CandidateScore) -> list[str]:
    """Why a patient found by identifier or accession may not be this header's person."""
    reasons = []
    if cand.birth_date in (DateMatch.NEAR, DateMatch.DIFFERENT):
        reasons.append(f"birth date differs ({cand.birth_date})")
    if not cand.sex_agrees:
        reasons.append("sex differs")
    if cand.name_similarity < CONTRADICTING_NAME_SIMILARITY and cand.record.name_key:
        reasons.append(f"name differs (similarity {cand.name_similarity:.2f})")
    return reasons


def auto_demographic(cand: CandidateScore) -> bool:
    """Enough on its own: same birth date, name equal up to a typo or two, sex agrees."""
    return cand.birth_date is DateMatch.EXACT and cand.sex_agrees and cand.name_similarity >= AUTO_NAME_SIMILARITY


def reviewable(cand: CandidateScore) -> bool:
    """Plausible enough that a person should look before a provisional patient is made."""
    if cand.birth_date is DateMatch.EXACT:
        return cand.name_similarity >= REVIEW_NAME_SIMILARITY
    if cand.birth_date in (DateMatch.NEAR, DateMatch.MISSING):
        return cand.name_similarity >= REVIEW_NEAR_NAME_SIMILARITY
    return False


@dataclass
class Outcome:
    """What the rules decided for one header, before anything is written."""

    status: LinkStatus
    method: LinkMethod
    patient_id: int | None
    score: float
    reasons: list[str]
    candidates: list[CandidateScore]

    def evidence(self, header: Header) -> dict[str, object]:
        """LinkDecision.evidence: method, score, compared values, candidates, reasons, inputs."""
        candidates = [c.to_json() for c in self.candidates[:MAX_EVIDENCE_CANDIDATES]]
        inputs = {"header": header.snapshot(), "candidates": [c.record.snapshot() for c in self.candidates]}
        digest = hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        return {
            "method": str(self.method),
            "status": str(self.status),
            "score": self.score,
            "header": header.snapshot(),
            "candidates": candidates,
            "reasons": self.reasons,
            "inputs": digest,
        }


def evaluate(header: Header, index: PatientIndex) -> Outcome:
    """Apply the rules: identifier, then accession, then demographics, else provisional."""
    notes: list[str] = []
    strong = [c for c in (_identifier_match(header, index, notes), _accession_match(header, index)) if c is not None]
    if strong:
        return _decide_strong(header, index, strong, notes)
    return _decide_demographics(header, index, notes)


def _identifier_match(header: Header, index: PatientIndex, notes: list[str]) -> CandidateScore | None:
    """The patient holding the header's identifier; issuer-less values only when unambiguous."""
    if not header.patient_id:
        return None
    if header.issuer:
        pid = index.by_identifier.get((header.patient_id, header.issuer))
        return score_candidate(header, index.records[pid], VIA_IDENTIFIER) if pid else None
    holders = index.by_identifier_value(header.patient_id)
    if len(holders) > 1:
        notes.append(f"identifier {header.patient_id} exists under {len(holders)} issuers")
        return None
    if not holders:
        return None
    ((issuer, pid),) = holders.items()
    cand = score_candidate(header, index.records[pid], VIA_IDENTIFIER_NO_ISSUER)
    reasons = contradictions(cand)
    # Without an issuer the value may belong to another system: keep it only when the
    # demographics agree, or when just the birth date slipped (then a person reviews).
    if not reasons or (
        reasons == [r for r in reasons if r.startswith("birth date")] and cand.name_similarity >= AUTO_NAME_SIMILARITY
    ):
        return cand
    notes.append(
        f"identifier {header.patient_id} known under issuer {issuer!r} "
        f"but demographics differ ({'; '.join(reasons)}): ignored"
    )
    return None


def _accession_match(header: Header, index: PatientIndex) -> CandidateScore | None:
    """The patient whose registry order carries the study's accession number."""
    pid = index.by_accession.get(header.accession) if header.accession else None
    return score_candidate(header, index.records[pid], VIA_ACCESSION) if pid else None


def _decide_strong(header: Header, index: PatientIndex, strong: list[CandidateScore], notes: list[str]) -> Outcome:
    """Link by identifier or accession unless they disagree with each other or the header."""
    reasons = list(notes)
    if len({c.record.id for c in strong}) > 1:
        reasons.append("identifier and accession point to different patients")
    for cand in strong:
        reasons += [f"{cand.via} match but {r}" for r in contradictions(cand)]
    best = strong[0]
    method = LinkMethod.IDENTIFIER if best.via.startswith("identifier") else LinkMethod.ACCESSION
    if len(reasons) > len(notes):
        others = [c for c in _demographic_scores(header, index) if reviewable(c)]
        return Outcome(
            LinkStatus.REVIEW,
            method,
            None,
            best.score,
            reasons,
            _merge_candidates(_merge_candidates(strong[:1], strong), others),
        )
    return Outcome(
        LinkStatus.AUTO, method, best.record.id, _CONFIDENCE[best.via], reasons, _merge_candidates(strong[:1], strong)
    )


def _decide_demographics(header: Header, index: PatientIndex, notes: list[str]) -> Outcome:
    """Link on name + birth date + sex when one candidate clearly wins; else review or new."""
    cands = _demographic_scores(header, index)
    plausible = [c for c in cands if reviewable(c)]
    if not plausible:
        return Outcome(
            LinkStatus.AUTO, LinkMethod.PROVISIONAL, None, 0.0, [*notes, "no registry patient matches"], cands
        )
    best, reasons = plausible[0], list(notes)
    runner_up = next((c for c in cands if c is not best), None)
    if runner_up is not None and best.score - runner_up.score < CLOSE_SCORE_MARGIN:
        same = (
            runner_up.record.name_key == best.record.name_key and runner_up.record.birth_date == best.record.birth_date
        )
        reasons.append("patients share this name and birth date" if same else "two candidates close in score")
    if _identifier_conflict(header, best.record):
        reasons.append(f"candidate has another identifier under issuer {header.issuer!r}")
    if not auto_demographic(best):
        reasons.append(
            f"best candidate not conclusive (birth date {best.birth_date}, "
            f"name similarity {best.name_similarity:.2f}, sex agrees {best.sex_agrees})"
        )
    if len(reasons) > len(notes):
        # Only candidates that bear on the decision, so unrelated namesakes do not reopen it.
        relevant = [c for c in cands if reviewable(c) or c.score > best.score - CLOSE_SCORE_MARGIN]
        return Outcome(LinkStatus.REVIEW, LinkMethod.DEMOGRAPHICS, None, best.score, reasons, relevant)
    return Outcome(LinkStatus.AUTO, LinkMethod.DEMOGRAPHICS, best.record.id, best.score, reasons, cands)


def _demographic_scores(header: Header, index: PatientIndex) -> list[CandidateScore]:
    """Blocked candidates scored and sorted best first."""
    records = index.demographic_candidates(header.name_key, header.birth_date)
    scored = [score_candidate(header, r, VIA_DEMOGRAPHICS) for r in records]
    return sorted(scored, key=lambda c: (-c.score, c.record.id))


def _identifier_conflict(header: Header, record: PatientRecord) -> bool:
    """The candidate already has a different identifier in the header's issuer namespace."""
    if not (header.issuer and header.patient_id):
        return False
    return any(issuer == header.issuer and value != header.patient_id for value, issuer in record.identifiers)


def _merge_candidates(first: list[CandidateScore], rest: list[CandidateScore]) -> list[CandidateScore]:
    """Strong matches first, then demographic candidates not already listed."""
    seen = {c.record.id for c in first}
    return first + [c for c in rest if c.record.id not in seen]
