"""Patient-level splits, stratified by whether the patient has findings and stable as data grows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

SPLITS = ("train", "val", "test")
FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
SALT = "sgm-dataset-split-v1"


def _rank(patient: str) -> str:
    # A salted hash orders new patients independently of database ids and insertion order.
    return hashlib.sha256(f"{SALT}\0{patient}".encode()).hexdigest()


def assign_splits(
    strata: Mapping[str, str], inherited: Mapping[str, str], fractions: Mapping[str, float] = FRACTIONS
) -> dict[str, str]:
    """Patient -> split: patients of the parent keep theirs; new ones fill each stratum towards the fractions."""
    result = {p: inherited[p] for p in strata if inherited.get(p) in fractions}
    for stratum in sorted(set(strata.values())):
        members = [p for p, s in strata.items() if s == stratum]
        counts = {split: sum(1 for p in members if result.get(p) == split) for split in fractions}
        for patient in sorted((p for p in members if p not in result), key=_rank):
            total = sum(counts.values()) + 1
            # The split furthest below its share; ties go to the order of `fractions`.
            split = max(fractions, key=lambda s: fractions[s] * total - counts[s])
            result[patient] = split
            counts[split] += 1
    return result
