"""`sgm ingest` through click's CliRunner against a temporary data folder, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.models import Instance, QuarantinedFile
from emr_core.settings import Settings
from tests.support.dicom_factory import poison_files, write_mg


def test_help_explains_the_command(sgm: Callable[..., Result]) -> None:
    result = sgm("ingest", "--help")
    assert result.exit_code == 0
    for text in ("PATHS...", "--move", "--workers", "quarantine", "conflicts/"):
        assert text in result.output


def test_ingest_moves_and_reports_quarantined_files(
    sgm: Callable[..., Result], settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    write_mg(incoming / "a.dcm")
    write_mg(incoming / "b.dcm", ImageLaterality="R")
    (incoming / "readme.txt").write_text("hello")
    result = sgm("ingest", str(incoming), "--move", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "quarantined " + str(incoming / "readme.txt") + ": not_dicom" in result.output
    assert "3 files: 2 stored, 0 unchanged, 0 conflicts, 1 quarantined" in result.output
    assert list(incoming.iterdir()) == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 2
        assert session.scalar(select(func.count()).select_from(QuarantinedFile)) == 1


def test_rejects_missing_path(sgm: Callable[..., Result], tmp_path: Path) -> None:
    result = sgm("ingest", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_ingest_quarantines_poison_files_with_their_reason(
    sgm: Callable[..., Result], settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Files pydicom cannot decode (unknown VR, implicit VR in explicit) are quarantined, not left."""
    incoming = tmp_path / "incoming"
    poison = poison_files(incoming)
    result = sgm("ingest", str(incoming), "--move")
    assert result.exit_code == 0, result.output
    for reason, path in poison.items():
        assert f"quarantined {path}: {reason}" in result.output
    assert f"{len(poison)} files: 0 stored, 0 unchanged, 0 conflicts, {len(poison)} quarantined, 0 failed" in (
        result.output
    )
    assert list(incoming.iterdir()) == []  # none left in place
    with session_factory() as session:
        rows = {q.reason: q for q in session.scalars(select(QuarantinedFile))}
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    assert set(rows) == set(poison)
    assert all((settings.root / q.quarantine_path).is_file() for q in rows.values())
