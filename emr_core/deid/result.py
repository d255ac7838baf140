"""One file's outcome, in a module of its own: the parent of the worker processes reads results
without loading the DICOM stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeidResult:
    """One file's outcome. Original identifiers are here for the audit trail only, never written out."""

    source: Path
    output: Path | None
    reason: str = ""
    pseudonym: str = ""
    patient_ref: str = ""
    study_uid: str = ""

    @property
    def ok(self) -> bool:
        return self.output is not None
