"""`sgm quarantine list|resolve`: a quarantined file is re-ingested or dismissed, audited, and stops counting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import verify_chain
from emr_core.db import session_scope
from emr_core.models import AuditEvent, QuarantinedFile
from emr_core.settings import Settings
from emr_core.status import platform_status
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from tests.conftest import SgmCli


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("qcorpus") / "corpus"
    generate_corpus(out, CorpusOptions(patients=1, seed=11, columns=64, rows=80, prior_fraction=0.0))
    with (out / "ground_truth" / "images.csv").open(encoding="utf-8") as fh:
        return [out / row["path"] for row in csv.DictReader(fh)]


def _quarantine_ids(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_scope(session_factory) as session:
        return {q.reason: q.id for q in session.scalars(select(QuarantinedFile))}


def _events(session_factory: sessionmaker[Session], event_id: str) -> list[AuditEvent]:
    with session_scope(session_factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_id == event_id)))


def test_reingest_and_dismiss_are_audited_and_clear_the_gate(
    sgm: SgmCli, settings: Settings, session_factory: sessionmaker[Session], images: list[Path], tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    good = images[0]
    (drop / "cut.dcm").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (drop / "notes.txt").write_text("not an image", encoding="utf-8")
    assert "2 quarantined" in sgm("ingest", str(drop)).output
    ids = _quarantine_ids(session_factory)
    assert set(ids) == {"truncated", "not_dicom"}
    listed = sgm("quarantine", "list").output
    assert "truncated" in listed and "not_dicom" in listed and "open" in listed

    same_bytes = sgm("quarantine", "resolve", str(ids["truncated"]), "--action", "reingest", "--reason", "retry")
    assert same_bytes.exit_code == 1 and "still cannot be ingested" in same_bytes.output
    fixed = sgm(
        "quarantine", "resolve", str(ids["truncated"]), "--action", "reingest",
        "--file", str(good), "--reason", "modality resent the complete file", "--user", "tech1",
    )  # fmt: skip
    assert fixed.exit_code == 0 and "1 stored" in fixed.output, fixed.output
    dismissed = sgm(
        "quarantine", "resolve", str(ids["not_dicom"]), "--action", "dismiss", "--reason", "stray text file"
    )
    assert dismissed.exit_code == 0 and "dismissed" in dismissed.output

    # Ingest runs write their own Import events; the resolution writes one of its own.
    imports = [e for e in _events(session_factory, "110107") if e.event_type == "quarantine re-ingested"]
    assert len(imports) == 1 and imports[0].user_id == "tech1" and imports[0].sop_instance_uid
    assert imports[0].detail["quarantine_id"] == ids["truncated"] and imports[0].study_uid
    assert imports[0].patient_ref == pydicom.dcmread(good, stop_before_pixels=True).PatientID
    activity = _events(session_factory, "110100")
    assert [e.event_type for e in activity] == ["quarantine dismissed"]
    assert activity[0].detail["note"] == "stray text file"
    with session_scope(session_factory) as session:
        assert platform_status(session).quarantined_by_reason == {}
        assert verify_chain(session) == []

    again = sgm("quarantine", "resolve", str(ids["not_dicom"]), "--action", "dismiss", "--reason", "twice")
    assert again.exit_code == 1 and "already dismissed" in again.output
    assert "no unresolved quarantined files" in sgm("quarantine", "list").output
    everything = json.loads(sgm("quarantine", "list", "--all", "--json").output)
    assert {i["resolution"] for i in everything} == {"reingested", "dismissed"}


def test_bad_requests_are_one_line_errors(sgm: SgmCli) -> None:
    missing = sgm("quarantine", "resolve", "99", "--action", "dismiss", "--reason", "x")
    assert missing.exit_code == 1 and "no quarantined file with id 99" in missing.output
    blank = sgm("quarantine", "resolve", "99", "--action", "dismiss", "--reason", "  ")
    assert blank.exit_code == 1 and "a reason is required" in blank.output
    assert sgm("quarantine", "resolve", "--help").exit_code == 0
