"""`sgm dataset` as a researcher uses it: export, list, show, pull (verified), diff; one-line errors; audit."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.models import AuditEvent
from tests.conftest import SgmCli
from tests.sgm_datasets.conftest import State
from tests.sgm_datasets.phi_scan import scan_for_phi


def _export(sgm: SgmCli, name: str = "screening") -> str:
    result = sgm("dataset", "export", name, "--no-mlflow")
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1].split("@")[1].split()[0]


def test_export_pull_show_diff_and_audit(sgm: SgmCli, state: State, tmp_path: Path) -> None:
    studies = state.studies()
    state.consolidate(studies[:2])
    first = _export(sgm)
    assert _export(sgm) == first  # the same state gives the same id
    listed = sgm("dataset", "list")
    assert f"screening@{first[:12]}" in listed.output
    shown = sgm("dataset", "show", f"screening@{first[:8]}")
    assert shown.exit_code == 0 and first in shown.output and "PS3.15" in shown.output
    dest = tmp_path / "pulled"
    pulled = sgm("dataset", "pull", f"screening@{first}", str(dest))
    assert pulled.exit_code == 0, pulled.output
    header = json.loads((dest / "header.json").read_text())
    assert all((dest / f["path"]).is_file() for f in header["files"])
    assert scan_for_phi(dest, state) == []
    state.consolidate(studies[2:3], with_finding=False)
    second = _export(sgm)
    assert second != first
    diffed = sgm("dataset", "diff", f"screening@{first}", f"screening@{second}")
    assert "images added: 4" in diffed.output and "images removed: 0" in diffed.output
    with session_scope(state.sessions) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_id == "110106")).all()
        seen = {(e.event_type, e.detail["version"]) for e in events}
        assert {("dataset.export", first), ("dataset.pull", first), ("dataset.export", second)} <= seen
        assert all(e.user_id for e in events)


def test_corrupted_and_missing_files_are_named(sgm: SgmCli, state: State, tmp_path: Path) -> None:
    state.consolidate(state.studies()[:1])
    version = _export(sgm)
    root = state.settings.root / "datasets" / "screening" / version
    header = json.loads((root / "header.json").read_text())
    png = next(f["path"] for f in header["files"] if f["path"].endswith(".png"))
    (root / png).write_bytes(b"not the image")
    result = sgm("dataset", "pull", f"screening@{version}", str(tmp_path / "a"))
    assert result.exit_code == 1 and png in result.output and "corrupted" in result.output
    assert "Traceback" not in result.output
    dcm = next(f["path"] for f in header["files"] if f["path"].endswith(".dcm"))
    (root / dcm).unlink()
    (root / png).unlink()
    result = sgm("dataset", "pull", f"screening@{version}", str(tmp_path / "b"))
    assert result.exit_code == 1 and "missing" in result.output
    assert dcm in result.output or png in result.output


def test_unknown_version_and_unreachable_store_are_one_line(sgm: SgmCli, monkeypatch, tmp_path: Path) -> None:
    result = sgm("dataset", "show", "screening@deadbeef00")
    assert result.exit_code == 1 and result.output.strip() == "Error: unknown dataset version screening@deadbeef00"
    monkeypatch.setenv("SGM_DATASET_STORE", "s3://bucket/prefix")
    monkeypatch.setenv("SGM_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("SGM_S3_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("SGM_S3_SECRET_ACCESS_KEY", "y")
    result = sgm("dataset", "list")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "cannot be reached" in result.output


def test_help() -> None:
    from click.testing import CliRunner

    from sgm_app.cli import _register, cli

    _register()
    for command in ("export", "list", "show", "pull", "diff"):
        result = CliRunner().invoke(cli, ["dataset", command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
