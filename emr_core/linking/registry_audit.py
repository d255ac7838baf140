"""Audit events of a registry import: one Import (110107) per run, one Patient Record per changed patient."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from emr_core.audit import AuditRecord
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.linking.link_audit import patient_ref

if TYPE_CHECKING:
    from emr_core.linking.registry import RegistryImportReport


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def registry_records(csv_path: Path, report: RegistryImportReport, actor: str) -> list[AuditRecord]:
    """The run (counts, the file's name and hash) and every existing patient whose record it changed.

    New patients are counted, not listed one by one: a first import of the whole registry stays one event.
    """
    run = AuditRecord(
        event_id=AuditEventId.IMPORT,
        action=AuditAction.CREATE,
        event_type="registry_import",
        outcome=AuditOutcome.SUCCESS if not report.errors else AuditOutcome.MINOR_FAILURE,
        user_id=actor[:128],
        network_address="local",
        detail={
            "file": csv_path.name,
            "sha256": _sha256(csv_path),
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "accessions_added": report.accessions_added,
            "accessions_moved": report.accessions_moved,
            "rejected": len(report.errors),
        },
    )
    changes: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for patient_id in report.updated_patient_ids:
        changes[patient_id]["fields"].append("demographics")
    for number, (old, new) in report.moved.items():
        changes[old]["accessions_out"].append(number)
        changes[new]["accessions_in"].append(number)
    return [run, *(_patient_record(pid, dict(what), actor) for pid, what in sorted(changes.items()))]


def _patient_record(patient_id: int, what: dict[str, list[str]], actor: str) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.PATIENT_RECORD,
        action=AuditAction.UPDATE,
        event_type="registry_update",
        user_id=actor[:128],
        network_address="local",
        patient_ref=patient_ref(patient_id),
        detail=what,
    )
