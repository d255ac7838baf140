"""`sgm deidentify IN OUT` through click's CliRunner: files, folders, reasons, exit code, audit."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from pydicom import dcmread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import verify_chain
from emr_core.deid import key_path
from emr_core.models import AuditEvent
from emr_core.settings import Settings
from sgm_app.cli import _register, cli
from tests.support.dicom_factory import write_mg


def test_help(sgm: Callable[..., Result]) -> None:
    result = sgm("deidentify", "--help")
    assert result.exit_code == 0
    for text in ("SOURCE OUT", "--workers", "Annex E", "pseudonym", "burned-in", "Export"):
        assert text in result.output


def test_folder_with_a_refused_file(
    sgm: Callable[..., Result], settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    src = tmp_path / "share" / "Nguyen Thi Lan"  # folder names may carry PHI: never copied
    for i in range(3):
        write_mg(src / f"img{i}.dcm", BurnedInAnnotation="NO", PatientID="P77", StudyInstanceUID="1.2.3.77")
    write_mg(src / "burned.dcm", BurnedInAnnotation="YES")
    out = tmp_path / "out"
    result = sgm("deidentify", str(tmp_path / "share"), str(out), "--workers", "2")
    assert result.exit_code == 1, result.output
    assert f"excluded {src / 'burned.dcm'}: BurnedInAnnotation is YES" in result.output
    assert "de-identified 3 file(s) of 1 study(ies); excluded 1" in result.output
    outputs = sorted(out.rglob("*.dcm"))
    assert len(outputs) == 3 and all("Nguyen" not in str(p) for p in outputs)
    assert len({dcmread(p).StudyInstanceUID for p in outputs}) == 1
    secret = key_path(settings).read_text().strip().encode()
    assert all(secret not in p.read_bytes() for p in outputs)
    assert not any(out.rglob("*.key"))
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_id == "110106")).all()
        assert verify_chain(session) == []
    released = [e for e in events if e.outcome == 0]
    assert [(e.patient_ref, e.study_uid, e.instance_count) for e in released] == [("HOSP/P77", "1.2.3.77", 3)]
    assert released[0].user_id == getpass.getuser() and released[0].action == "R"
    assert released[0].detail["pseudonym"] == dcmread(outputs[0]).PatientID
    assert [(e.outcome, e.instance_count) for e in events if e.outcome] == [(4, 1)]


def test_single_file_succeeds_and_repeats_identically(sgm: Callable[..., Result], tmp_path: Path) -> None:
    source = write_mg(tmp_path / "one.dcm", BurnedInAnnotation="NO")
    first = sgm("deidentify", str(source), str(tmp_path / "a"))
    second = sgm("deidentify", str(source), str(tmp_path / "b"))
    assert first.exit_code == second.exit_code == 0, first.output
    (a,), (b,) = list((tmp_path / "a").rglob("*.dcm")), list((tmp_path / "b").rglob("*.dcm"))
    assert a.relative_to(tmp_path / "a") == b.relative_to(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_missing_source_is_a_usage_error(sgm: Callable[..., Result], tmp_path: Path) -> None:
    result = sgm("deidentify", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_no_file_is_released_without_a_database_to_audit_to(tmp_path: Path) -> None:
    """The workers start before the database check; they get no file when it fails."""
    _register()
    for i in range(4):
        write_mg(tmp_path / "in" / f"img{i}.dcm", BurnedInAnnotation="NO")
    env = {"SGM_HOME": str(tmp_path / "sgm"), "SGM_DATABASE_URL": None}  # a database never migrated
    args = ["deidentify", str(tmp_path / "in"), str(tmp_path / "out"), "--workers", "2"]
    refused = CliRunner().invoke(cli, args, env=env)
    assert refused.exit_code != 0 and "database not migrated: run `sgm db upgrade`" in refused.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not any((tmp_path / "sgm").rglob("*.key")), "no site secret is made for a database it cannot audit to"
