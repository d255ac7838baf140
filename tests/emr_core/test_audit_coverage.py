"""Ingest, linking and registry imports leave audit events: batched, with counts, per patient where a record changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit_seal import CheckpointFile, load_key
from emr_core.audit_verify import verify_audit_log
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking import decide, import_registry, link_studies
from emr_core.models import AuditEvent, Patient, PatientIdentifier, Study
from emr_core.settings import Settings
from tests.conftest import SgmCli
from tests.support.dicom_factory import write_mg

REGISTRY = """patient_id,issuer,full_name,birth_date,sex,accession_numbers
P1,HOSP,Nguyễn Thị Lan,1970-01-02,F,ACC1
P2,HOSP,Trần Thị Mai,1965-05-06,F,ACC2
"""


def _events(factory: sessionmaker[Session], event_type: str) -> list[AuditEvent]:
    with session_scope(factory) as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type).order_by(AuditEvent.id))
        )


def _patient_id(factory: sessionmaker[Session], identifier: str) -> int:
    with session_scope(factory) as session:
        found = session.scalar(select(PatientIdentifier.patient_id).where(PatientIdentifier.value == identifier))
        assert found is not None, identifier
        return int(found)


def _intact(factory: sessionmaker[Session], settings: Settings) -> None:
    key = load_key(settings.audit_key_path, create=False)
    with session_scope(factory) as session:
        report = verify_audit_log(session, key, CheckpointFile(settings.audit_checkpoint_path, key))
    assert report.intact, report.problems


def test_folder_ingest_writes_one_import_event_per_batch(
    sgm: SgmCli,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incoming = tmp_path / "incoming"
    for n in range(5):
        write_mg(incoming / f"{n}.dcm")
    (incoming / "zz-readme.txt").write_text("not dicom")
    monkeypatch.setenv("SGM_INGEST_BATCH_SIZE", "4")
    result = sgm("ingest", str(incoming), "--workers", "1")
    assert result.exit_code == 0, result.output
    events = _events(session_factory, "dicom_folder_ingest")
    assert [e.event_id for e in events] == ["110107", "110107"]  # 6 files in batches of 4: two events, not six
    assert sum(e.detail["counts"].get("stored", 0) for e in events) == 5
    assert sum(e.detail["counts"].get("quarantined", 0) for e in events) == 1
    assert {e.user_id for e in events} == {"cli"}
    assert events[0].detail["sources"] == [str(incoming)] and events[0].detail["channel"] == "folder"
    assert sum(e.detail["new_studies"] for e in events) == 5
    assert events[-1].outcome == 4  # the batch with the quarantined file is a minor failure
    _intact(session_factory, settings)


def test_reingest_is_audited_with_unchanged_counts(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    write_mg(tmp_path / "in" / "a.dcm")
    ingest_paths(session_factory, settings, [tmp_path / "in"])
    ingest_paths(session_factory, settings, [tmp_path / "in"])
    events = _events(session_factory, "dicom_folder_ingest")
    assert [e.detail["counts"] for e in events] == [{"stored": 1}, {"unchanged": 1}]
    assert {e.user_id for e in events} == {"local"}


def test_sensor_ingest_is_audited_as_the_dagster_run(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    import dagster as dg

    from assets import ingest
    from tests.support.resources import dagster_resources

    write_mg(settings.incoming_dir / "a.dcm")
    write_mg(settings.incoming_dir / "b.dcm")
    result = dg.materialize(
        [ingest.dicom_instances],
        resources={name: r for name, r in dagster_resources(settings).items() if name in ("emr_db", "dicom_storage")},
    )
    assert result.success
    (event,) = _events(session_factory, "dicom_sensor_ingest")
    assert event.user_id == f"dagster:{result.run_id}"
    assert event.detail["counts"] == {"stored": 2} and event.detail["sources"] == [str(settings.incoming_dir)]
    assert event.instance_count == 2


def _seed_studies(factory: sessionmaker[Session], tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    with session_scope(factory) as session:
        import_registry(session, registry)
        for n, (pid, name, born) in enumerate(
            [("P1", "NGUYEN^LAN^THI", date(1970, 1, 2)), ("X9", "LE^HONG", date(1980, 2, 3))]
        ):
            session.add(
                Study(
                    study_uid=f"9.{n}",
                    dicom_patient_id=pid,
                    dicom_issuer="HOSP",
                    dicom_patient_name=name,
                    dicom_birth_date=born,
                    dicom_sex="F",
                    accession_number=f"NEW{n}",
                )
            )


def test_automatic_linking_audits_each_patient_and_the_batch(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    _seed_studies(session_factory, tmp_path)
    report = link_studies(session_factory)
    assert report.total_linked == 2
    linked = {e.patient_ref: e for e in _events(session_factory, "study_linked")}
    registry_patient = f"emr:{_patient_id(session_factory, 'P1')}"
    assert linked[registry_patient].action == "U" and linked[registry_patient].study_uid == "9.0"
    (provisional,) = [e for ref, e in linked.items() if ref != registry_patient]
    assert provisional.action == "C" and provisional.detail["method"] == "provisional"
    assert {e.event_id for e in linked.values()} == {"110110"}
    (batch,) = _events(session_factory, "link_batch")
    assert batch.detail["decisions"] == 2 and batch.detail["by_outcome"] == {
        "auto/identifier": 1,
        "auto/provisional": 1,
    }
    link_studies(session_factory, only_pending=False)  # nothing changes: nothing more is recorded
    assert len(_events(session_factory, "link_batch")) == 1
    _intact(session_factory, settings)


def test_manual_decision_audits_the_user_and_both_patients(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    _seed_studies(session_factory, tmp_path)
    link_studies(session_factory)
    old, new = _patient_id(session_factory, "P1"), _patient_id(session_factory, "P2")
    with session_scope(session_factory) as session:
        decide(session, "9.0", new, "dr.hoa")
    (manual,) = _events(session_factory, "study_linked_manual")
    assert (manual.user_id, manual.patient_ref, manual.study_uid, manual.action) == ("dr.hoa", f"emr:{new}", "9.0", "U")
    (unlinked,) = _events(session_factory, "study_unlinked")
    assert (unlinked.user_id, unlinked.patient_ref) == ("dr.hoa", f"emr:{old}")
    _intact(session_factory, settings)


def test_registry_import_is_one_event_plus_changed_patients(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    with session_scope(session_factory) as session:
        import_registry(session, registry, actor="cli")
    (first,) = _events(session_factory, "registry_import")
    assert first.event_id == "110107" and first.user_id == "cli"
    assert _subset(first.detail, {"file": "registry.csv", "rows": 2, "created": 2, "updated": 0})
    assert _events(session_factory, "registry_update") == []  # new patients are counted, not listed

    # P2 renamed, and accession ACC1 moves from P1 to P2.
    changed = (
        "patient_id,issuer,full_name,birth_date,sex,accession_numbers\n"
        "P1,HOSP,Nguyễn Thị Lan,1970-01-02,F,\n"
        "P2,HOSP,Trần Thị Mây,1965-05-06,F,ACC2;ACC1\n"
    )
    registry.write_text(changed, encoding="utf-8")
    with session_scope(session_factory) as session:
        import_registry(session, registry, actor="cli")
    second = _events(session_factory, "registry_import")[-1]
    assert _subset(second.detail, {"updated": 1, "accessions_moved": 1})
    assert second.detail["sha256"] != first.detail["sha256"]
    updates = {e.patient_ref: e.detail for e in _events(session_factory, "registry_update")}
    p1, p2 = f"emr:{_patient_id(session_factory, 'P1')}", f"emr:{_patient_id(session_factory, 'P2')}"
    assert updates == {
        p1: {"accessions_out": ["ACC1"]},
        p2: {"fields": ["demographics"], "accessions_in": ["ACC1"]},
    }
    with session_scope(session_factory) as session:
        assert session.scalar(select(Patient.full_name).where(Patient.id == int(p2[4:]))) == "Trần Thị Mây"
    _intact(session_factory, settings)


def _subset(detail: dict[str, Any], expected: dict[str, Any]) -> bool:
    return {k: detail.get(k) for k in expected} == expected
