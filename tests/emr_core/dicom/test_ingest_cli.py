"""`sgm ingest` through click's CliRunner against a temporary data folder, on both backends."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.models import Instance, QuarantinedFile
from emr_core.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from tests.support.dicom_factory import write_mg


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
