"""Import the hospital registry CSV into patients, identifiers and accessions (bulk upsert)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from emr_core.audit import record_events
from emr_core.linking.candidates import chunks
from emr_core.linking.names import fold, name_key
from emr_core.linking.registry_audit import registry_records
from emr_core.models import Accession, Patient, PatientIdentifier

_INDEX_BATCH = 5000
_CREATE_BATCH = 5000
REQUIRED_COLUMNS = ("patient_id", "issuer", "full_name", "birth_date", "sex")
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y")
_SEX = {"F": "F", "FEMALE": "F", "NU": "F", "M": "M", "MALE": "M", "NAM": "M", "O": "O"}


@dataclass(frozen=True)
class RegistryRow:
    """One valid registry line, normalised."""

    line: int
    patient_id: str
    issuer: str
    full_name: str
    birth_date: date | None
    sex: str | None
    accessions: tuple[str, ...]

    @property
    def fields(self) -> dict[str, object]:
        """The Patient columns this row sets."""
        return {
            "full_name": self.full_name,
            "name_key": name_key(self.full_name),
            "birth_date": self.birth_date,
            "sex": self.sex,
            "provisional": False,
        }


@dataclass
class RegistryImportReport:
    """What an import did; `errors` holds (CSV line number, reason) of skipped rows."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accessions_added: int = 0
    accessions_moved: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    updated_patient_ids: list[int] = field(default_factory=list)
    moved: dict[str, tuple[int, int]] = field(default_factory=dict)  # accession -> (from, to) patient


def parse_date(text: str) -> date | None:
    """Parse ISO, DICOM (YYYYMMDD) or day-first dates; None when empty, ValueError when bad."""
    text = text.strip()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unparseable birth date {text!r}")


def normalise_sex(text: str) -> str | None:
    """Map registry or DICOM sex codes to F/M/O, None when unknown."""
    return _SEX.get(fold(text.strip()).upper())


def parse_row(line: int, raw: dict[str, str | None]) -> RegistryRow:
    """Validate one CSV record; raises ValueError with the reason."""
    value = (raw.get("patient_id") or "").strip()
    if not value:
        raise ValueError("missing patient_id")
    if len(value) > 64:
        raise ValueError("patient_id longer than 64 characters")
    accessions = tuple(a.strip() for a in (raw.get("accession_numbers") or "").split(";") if a.strip())
    return RegistryRow(
        line=line,
        patient_id=value,
        issuer=(raw.get("issuer") or "").strip(),
        full_name=" ".join((raw.get("full_name") or "").split()),
        birth_date=parse_date(raw.get("birth_date") or ""),
        sex=normalise_sex(raw.get("sex") or ""),
        accessions=accessions,
    )


def read_registry(csv_path: Path, report: RegistryImportReport) -> list[RegistryRow]:
    """Read and validate every row; bad and duplicate rows go to report.errors."""
    rows: dict[tuple[str, str], RegistryRow] = {}
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {', '.join(missing)}")
        for raw in reader:
            report.rows += 1
            line = reader.line_num
            try:
                row = parse_row(line, raw)
            except ValueError as exc:
                report.errors.append((line, str(exc)))
                continue
            key = (row.patient_id, row.issuer)
            if key in rows:
                report.errors.append((line, f"duplicate of line {rows[key].line}"))
                continue
            rows[key] = row
    return list(rows.values())


def import_registry(session: Session, csv_path: Path | str, actor: str = "local") -> RegistryImportReport:
    """Upsert registry patients by (patient_id, issuer); idempotent, audited; the caller commits."""
    report = RegistryImportReport()
    rows = read_registry(Path(csv_path), report)
    existing = _existing_patients(session, {row.patient_id for row in rows})
    new_rows = [r for r in rows if (r.patient_id, r.issuer) not in existing]
    _update_patients(session, rows, existing, report)
    patient_ids = {k: pid for k, (pid, _) in existing.items()}
    patient_ids.update(_create_patients(session, new_rows))
    report.created = len(new_rows)
    _upsert_accessions(session, rows, patient_ids, report)
    record_events(session, registry_records(Path(csv_path), report, actor))
    return report


def _existing_patients(session: Session, values: set[str]) -> dict[tuple[str, str], tuple[int, dict[str, object]]]:
    """(identifier, issuer) -> (patient id, current registry fields) of the known patients holding these
    identifier values. Only those: a day's registry rows must not cost a read of the whole archive."""
    stmt = select(
        PatientIdentifier.value,
        PatientIdentifier.issuer,
        Patient.id,
        Patient.full_name,
        Patient.name_key,
        Patient.birth_date,
        Patient.sex,
        Patient.provisional,
    ).join(Patient, Patient.id == PatientIdentifier.patient_id)
    return {
        (value, issuer): (
            pid,
            {"full_name": full, "name_key": key, "birth_date": born, "sex": sex, "provisional": bool(prov)},
        )
        for chunk in chunks(values)
        for value, issuer, pid, full, key, born, sex, prov in session.execute(
            stmt.where(PatientIdentifier.value.in_(chunk))
        )
    }


def _update_patients(
    session: Session,
    rows: list[RegistryRow],
    existing: dict[tuple[str, str], tuple[int, dict[str, object]]],
    report: RegistryImportReport,
) -> None:
    """Bulk-update known patients whose registry fields changed (also promotes provisionals); re-key renamed ones."""
    changes, renamed = [], []
    for row in rows:
        known = existing.get((row.patient_id, row.issuer))
        if known is None:
            continue
        if known[1] == row.fields:
            report.unchanged += 1
        else:
            changes.append({"id": known[0], **row.fields})
            report.updated_patient_ids.append(known[0])
            if known[1]["full_name"] != row.full_name:
                renamed.append((known[0], row.full_name))
    report.updated = len(changes)
    if changes:
        session.execute(update(Patient), changes)
    _reindex(session, renamed)


def _reindex(session: Session, patients: list[tuple[int, str]]) -> None:
    """Rewrite the search keys of renamed patients in the same transaction, so every API worker finds them
    under their current name at once (the keys live in the database). New patients need nothing here: the
    API indexes ids above the highest indexed one before each search."""
    # Imported here: clinical.search uses linking.names, and this package's __init__ imports this module.
    from emr_core.clinical.search import reindex_renamed

    for start in range(0, len(patients), _INDEX_BATCH):
        reindex_renamed(session, patients[start : start + _INDEX_BATCH])


def _create_patients(session: Session, rows: list[RegistryRow]) -> dict[tuple[str, str], int]:
    """Insert new patients and their identifiers; returns (identifier, issuer) -> patient id."""
    ids: dict[tuple[str, str], int] = {}
    # In batches: ORM objects of every new patient at once cost ~4 KB a row, 2 GB for a 500,000-row
    # registry (measured by bench/scale.py); a batch's objects go once its ids are known.
    for start in range(0, len(rows), _CREATE_BATCH):
        ids.update(_create_batch(session, rows[start : start + _CREATE_BATCH]))
    return ids


def _create_batch(session: Session, rows: list[RegistryRow]) -> dict[tuple[str, str], int]:
    patients = [Patient(**row.fields) for row in rows]
    session.add_all(patients)
    session.flush()  # batched INSERT ... RETURNING where the backend has it
    ids = {(r.patient_id, r.issuer): p.id for r, p in zip(rows, patients, strict=True)}
    if rows:
        session.execute(
            insert(PatientIdentifier),
            [{"patient_id": ids[k], "value": k[0], "issuer": k[1]} for k in ids],
        )
    for patient in patients:
        session.expunge(patient)  # keep the identity map small on big imports
    return ids


def _upsert_accessions(
    session: Session,
    rows: list[RegistryRow],
    patient_ids: dict[tuple[str, str], int],
    report: RegistryImportReport,
) -> None:
    """Add new accession numbers and re-point those the registry now gives to another patient."""
    listed = {number for row in rows for number in row.accessions}
    known: dict[str, int] = {}
    for chunk in chunks(listed):
        query = select(Accession.accession_number, Accession.patient_id).where(Accession.accession_number.in_(chunk))
        known.update(dict(session.execute(query).all()))
    added: dict[str, int] = {}
    moved: dict[str, int] = {}
    for row in rows:
        pid = patient_ids[(row.patient_id, row.issuer)]
        for number in row.accessions:
            if number in added or number in moved:
                report.errors.append((row.line, f"accession {number} listed twice"))
            elif number not in known:
                added[number] = pid
            elif known[number] != pid:
                moved[number] = pid
                report.moved[number] = (known[number], pid)
    if added:
        session.execute(insert(Accession), [{"accession_number": a, "patient_id": p} for a, p in added.items()])
    for number, pid in moved.items():
        session.execute(update(Accession).where(Accession.accession_number == number).values(patient_id=pid))
    report.accessions_added, report.accessions_moved = len(added), len(moved)
