"""The hospital's master patient list and how modality headers disagree with it."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emr_core.synthetic.mg_dataset import PACS_ISSUER, HeaderIdentity
from emr_core.synthetic.people import (
    Person,
    VietName,
    ascii_fold,
    random_birth_date,
    random_name,
    shifted_birth_date,
    typo,
)

REGISTRY_ISSUER = "HIS_SGM"
REGISTRY_COLUMNS = ("patient_id", "issuer", "full_name", "birth_date", "sex", "accession_numbers")
# Fraction of studies carrying each identity disagreement (quota-based so small corpora show all).
STUDY_VARIANTS: tuple[tuple[str, float], ...] = (
    ("pacs_id", 0.15),
    ("missing_issuer", 0.10),
    ("ascii_name", 0.25),
    ("swapped_name", 0.08),
    ("name_typo", 0.05),
    ("wrong_birth_date", 0.02),
)
NOT_IN_REGISTRY_FRACTION = 0.03
SHARED_IDENTITY_FRACTION = 0.01
# Below this many items a quota may round to zero instead of forcing one occurrence.
MIN_FOR_FORCED = 20


@dataclass(frozen=True)
class Cohort:
    """Persons with exams, registry-only persons, and the person-level tags."""

    persons: tuple[Person, ...]
    extras: tuple[Person, ...]
    tags: dict[str, tuple[str, ...]]


def quota(fraction: float, n: int, forced_from: int = MIN_FOR_FORCED) -> int:
    """How many of n items get a variant: rounded share, at least one once n is large enough."""
    return max(1 if n >= forced_from else 0, int(round(fraction * n)))


def _unique_numbers(rng: np.random.Generator, n: int, low: int, high: int) -> list[int]:
    """n distinct integers in [low, high)."""
    return [low + int(v) for v in rng.choice(high - low, size=n, replace=False)]


def _make_persons(rng: np.random.Generator, n: int, prefix: str, ids: list[int], pacs: list[int]) -> list[Person]:
    """Persons with fresh names and birth dates, all in the registry for now."""
    return [
        Person(
            f"{prefix}{i + 1:06d}",
            random_name(rng),
            random_birth_date(rng),
            "F",
            f"{ids[i]:08d}",
            REGISTRY_ISSUER,
            f"MG{pacs[i]:07d}",
        )
        for i in range(n)
    ]


def build_cohort(rng: np.random.Generator, patients: int, registry_extra: int) -> Cohort:
    """Draw persons, mark ~3% as unregistered and ~1% as same-name-same-birth-date pairs."""
    ids = _unique_numbers(rng, patients + registry_extra, 10_000_000, 100_000_000)
    pacs = _unique_numbers(rng, patients + registry_extra, 1_000_000, 10_000_000)
    persons = _make_persons(rng, patients, "P", ids, pacs)
    order = [int(i) for i in rng.permutation(patients)]
    n_out, n_pairs = quota(NOT_IN_REGISTRY_FRACTION, patients), quota(SHARED_IDENTITY_FRACTION / 2, patients, 50)
    tags: dict[str, list[str]] = {p.person_id: [] for p in persons}
    for i in order[:n_out]:
        persons[i] = replace(persons[i], registry_patient_id="", registry_issuer="")
        tags[persons[i].person_id].append("not_in_registry")
    for k in range(n_pairs):
        a, b = order[n_out + 2 * k], order[n_out + 2 * k + 1]
        persons[b] = replace(persons[b], name=persons[a].name, birth_date=persons[a].birth_date)
        tags[persons[a].person_id].append("shared_name_dob")
        tags[persons[b].person_id].append("shared_name_dob")
    extras = _make_persons(rng, registry_extra, "X", ids[patients:], pacs[patients:])
    extras = [_namesake(rng, e, persons) for e in extras]
    return Cohort(tuple(persons), tuple(extras), {k: tuple(v) for k, v in tags.items()})


def _namesake(rng: np.random.Generator, extra: Person, persons: list[Person]) -> Person:
    """Give ~10% of registry-only persons the full name of a screened person (common in Vietnam)."""
    if not persons or rng.random() >= 0.10:
        return extra
    return replace(extra, name=persons[int(rng.integers(len(persons)))].name)


def _eligible(variant: str, chosen: set[str]) -> bool:
    """Variants that make sense together (a PACS id has its own issuer; a birth-date conflict needs the same id)."""
    if variant in ("pacs_id", "missing_issuer"):
        return not chosen & {"pacs_id", "missing_issuer"}
    if variant == "wrong_birth_date":
        return not chosen & {"pacs_id", "not_in_registry", "shared_name_dob"}
    return True


def assign_study_variants(
    rng: np.random.Generator, study_persons: list[Person], tags: dict[str, tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """Per study, the sorted identity variants (person tags plus quota-drawn header disagreements)."""
    chosen = [set(tags.get(p.person_id, ())) for p in study_persons]
    for c in chosen:
        if "not_in_registry" in c:  # no registry id exists: the modality used its own
            c.add("pacs_id")
    n = len(study_persons)
    for variant, fraction in STUDY_VARIANTS:
        present = sum(variant in c for c in chosen)
        eligible = [i for i in range(n) if variant not in chosen[i] and _eligible(variant, chosen[i])]
        k = min(max(quota(fraction, n) - present, 0), len(eligible))
        for i in rng.choice(eligible, size=k, replace=False) if k else ():
            chosen[int(i)].add(variant)
    return [tuple(sorted(c)) or ("exact",) for c in chosen]


def _header_name(name: VietName, variants: tuple[str, ...], rng: np.random.Generator) -> str:
    """PN value family^given^middle, possibly mistyped, folded to ASCII or given-first."""
    family, middle, given = name.family, name.middle, name.given
    if "name_typo" in variants:
        if rng.random() < 0.5:
            given = typo(given, rng)
        else:
            family = typo(family, rng)
    if "ascii_name" in variants:
        family, middle, given = ascii_fold(family), ascii_fold(middle), ascii_fold(given)
    if "swapped_name" in variants:
        return f"{given}^{family}^{middle}"
    return f"{family}^{given}^{middle}"


def header_identity(person: Person, variants: tuple[str, ...], rng: np.random.Generator) -> HeaderIdentity:
    """The identity a modality wrote for this person under the given variants."""
    if "pacs_id" in variants:
        pid, issuer = person.pacs_id, PACS_ISSUER
    else:
        pid = person.registry_patient_id
        issuer = "" if "missing_issuer" in variants else person.registry_issuer
    birth = shifted_birth_date(person.birth_date, rng) if "wrong_birth_date" in variants else person.birth_date
    name = _header_name(person.name, variants, rng)
    return HeaderIdentity(pid, issuer, name, "ascii_name" not in variants, birth, person.sex)


def write_registry(path: Path, cohort: Cohort, accessions: dict[str, list[str]]) -> int:
    """Write registry.csv (registered persons and registry-only persons, by patient_id); return row count."""
    registered = [p for p in cohort.persons + cohort.extras if p.registry_patient_id]
    registered.sort(key=lambda p: (p.registry_issuer, p.registry_patient_id))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(REGISTRY_COLUMNS)
        for p in registered:
            writer.writerow(
                [
                    p.registry_patient_id,
                    p.registry_issuer,
                    p.name.full,
                    p.birth_date.isoformat(),
                    p.sex,
                    ";".join(accessions.get(p.person_id, [])),
                ]
            )
    return len(registered)
