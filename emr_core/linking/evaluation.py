"""Linking quality against a synthetic corpus's ground truth: precision, recall, merges."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.enums import LinkStatus
from emr_core.models import LinkDecision, Patient, PatientIdentifier, Study


@dataclass(frozen=True)
class Quality:
    """Linking quality against the corpus ground truth."""

    studies: int
    auto_links: int  # automatic links to registry (non-provisional) patients
    correct_auto_links: int
    registered_studies: int
    review_queue: int
    provisional_links: int
    merges: int

    @property
    def precision(self) -> float:
        return self.correct_auto_links / self.auto_links if self.auto_links else 1.0

    @property
    def recall(self) -> float:
        return self.correct_auto_links / self.registered_studies if self.registered_studies else 1.0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def measure_quality(session: Session, out: Path) -> Quality:
    """Compare current decisions with ground_truth/studies.csv and persons.csv."""
    gt = out / "ground_truth"
    registry_of = {
        p["person_id"]: (p["registry_patient_id"], p["registry_issuer"]) for p in _read_csv(gt / "persons.csv")
    }
    person_of = {s["study_uid"]: s["person_id"] for s in _read_csv(gt / "studies.csv")}
    identifiers = {
        (v, i): pid
        for pid, v, i in session.execute(
            select(PatientIdentifier.patient_id, PatientIdentifier.value, PatientIdentifier.issuer)
        )
    }
    provisional_ids = set(session.scalars(select(Patient.id).where(Patient.provisional.is_(True))))
    rows = session.execute(
        select(Study.study_uid, LinkDecision.patient_id, LinkDecision.status)
        .join(LinkDecision, LinkDecision.study_id == Study.id)
        .where(LinkDecision.is_current.is_(True))
    ).all()
    auto = correct = review = provisional = 0
    persons_by_patient: dict[int, set[str]] = defaultdict(set)
    for uid, patient_id, status in rows:
        person = person_of[uid]
        review += status == LinkStatus.REVIEW.value
        if patient_id is None:
            continue
        persons_by_patient[patient_id].add(person)
        if patient_id in provisional_ids:  # a registered person linked here is a miss
            provisional += 1
            continue
        auto += 1
        correct += identifiers.get(registry_of[person]) == patient_id
    registered = sum(1 for uid in person_of if registry_of[person_of[uid]][0])
    merges = sum(1 for persons in persons_by_patient.values() if len(persons) > 1)
    return Quality(len(person_of), auto, correct, registered, review, provisional, merges)
