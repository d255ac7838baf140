"""Quarantine: byte-for-byte copies named by sha256, a reason sidecar, idempotent per content."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.dicom.ingest import ingest_paths
from emr_core.dicom.quarantine import quarantine_file
from emr_core.enums import QuarantineReason
from emr_core.models import QuarantinedFile
from emr_core.settings import Settings


def test_quarantine_file_writes_copy_and_sidecar(tmp_path: Path) -> None:
    source = tmp_path / "bad.bin"
    source.write_bytes(b"\x00garbage")
    sha = hashlib.sha256(b"\x00garbage").hexdigest()
    kept = quarantine_file(source, tmp_path / "q", QuarantineReason.NOT_DICOM, "no DICM prefix")
    assert (kept.path, kept.sha256, kept.size) == (str(tmp_path / "q" / sha), sha, 8)
    assert Path(kept.path).read_bytes() == b"\x00garbage" and source.exists()
    sidecar = json.loads((tmp_path / "q" / f"{sha}.json").read_text())
    assert sidecar["reason"] == "not_dicom" and sidecar["source_path"] == str(source)
    assert sidecar["detail"] == "no DICM prefix" and sidecar["size"] == 8


def test_same_bytes_twice_keep_the_first_record(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("same")
    second.write_text("same")
    quarantine_file(first, tmp_path / "q", QuarantineReason.NOT_DICOM, "first")
    quarantine_file(second, tmp_path / "q", QuarantineReason.NOT_DICOM, "second")
    names = sorted(p.name for p in (tmp_path / "q").iterdir())
    assert len(names) == 2 and names[1] == names[0] + ".json"
    assert json.loads((tmp_path / "q" / names[1]).read_text())["detail"] == "first"


def test_same_bytes_under_two_names_make_one_row(
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="emr_core.dicom")
    for name in ("a.txt", "b.txt"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("not dicom")
    for _ in range(2):
        report = ingest_paths(session_factory, settings, [tmp_path / "in"])
        assert report.quarantined == 2 and len(report.quarantined_files) == 2
    with session_factory() as session:
        rows = session.scalars(select(QuarantinedFile)).all()
    assert len(rows) == 1 and rows[0].reason == "not_dicom" and rows[0].size_bytes == 9
    assert rows[0].source_path == str(tmp_path / "in" / "a.txt")
    assert (settings.root / rows[0].quarantine_path).read_text() == "not dicom"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4 and all("(not_dicom: " in w for w in warnings)
    assert "2 files: 0 stored, 0 unchanged, 0 conflicts, 2 quarantined" in caplog.text
