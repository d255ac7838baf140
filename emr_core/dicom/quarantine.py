"""Keep files that cannot be ingested, byte for byte, named by content, with a reason sidecar."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from emr_core.dicom.storage import StoredFile, store_by_content, store_bytes
from emr_core.enums import QuarantineReason


@dataclass(frozen=True)
class Quarantined:
    """A quarantined copy: where it is, its hash and size, and why it is there."""

    source_path: str
    path: str
    sha256: str
    size: int
    reason: QuarantineReason
    detail: str


def quarantine_file(
    source: str | os.PathLike[str], quarantine_dir: Path, reason: QuarantineReason, detail: str
) -> Quarantined:
    """Copy source to quarantine/<sha256> with quarantine/<sha256>.json; idempotent per content."""
    stored = store_by_content(source, quarantine_dir)
    _write_sidecar(stored, os.fspath(source), reason, detail)
    return Quarantined(os.fspath(source), str(stored.path), stored.sha256, stored.size, reason, detail)


def _write_sidecar(stored: StoredFile, source: str, reason: QuarantineReason, detail: str) -> None:
    # The first sidecar wins: the same bytes quarantined again change nothing on disk.
    sidecar = stored.path.with_name(stored.path.name + ".json")
    if sidecar.exists():
        return
    record = {
        "sha256": stored.sha256,
        "size": stored.size,
        "reason": str(reason),
        "detail": detail,
        "source_path": source,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store_bytes(json.dumps(record, indent=2, ensure_ascii=False).encode(), sidecar)
