"""The storage receiver against real dcmtk senders, on SQLite and MariaDB."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.enums import AuditEventId, AuditOutcome
from emr_core.settings import Settings
from tests.emr_core.dimse.dimse_checks import (
    audit_events,
    dataset_bytes,
    indexed,
    leftovers,
    quarantined,
    sop_uids,
)
from tests.emr_core.dimse.peers import ReceiverProcess, dcmtk, run_tool
from tests.emr_core.dimse.testdata import (
    dataset_without_study_uid,
    send_raw,
    truncated_copy,
    write_j2k,
)


def _store(receiver: ReceiverProcess, *paths: Path, aet: str = "MODALITY", extra: tuple[str, ...] = ()) -> str:
    result = run_tool(
        "storescu",
        "-aet",
        aet,
        "-aec",
        receiver.ae_title,
        "-pdu",
        "131072",
        *extra,
        "+sd",
        "+r",
        "-v",
        "127.0.0.1",
        str(receiver.port),
        *paths,
    )
    return result.stdout + result.stderr


def test_echo_then_store_a_study_indexes_links_and_audits_it(
    receiver: ReceiverProcess, corpus: Path, session_factory: sessionmaker[Session]
) -> None:
    dcmtk("echoscu", "storescu")
    receiver.start()
    echo = run_tool("echoscu", "-aet", "MODALITY", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    assert echo.returncode == 0, echo.stderr
    study = next(p for p in corpus.glob("*/*") if p.is_dir())
    files = sorted(study.glob("*.dcm"))
    _store(receiver, study)
    assert receiver.stop() == 0, receiver.logs()

    index = indexed(session_factory)
    assert set(index) == sop_uids(files)
    for instance in index.values():
        stored = receiver.settings.root / instance.stored_path
        assert stored.is_file() and instance.is_mammogram
    received = audit_events(session_factory, "dicom_instance_received")
    assert {e.sop_instance_uid for e in received} == set(index)
    assert all(e.ae_title == "MODALITY" and e.network_address.startswith("127.0.0.1:") for e in received)
    assert all(e.patient_ref and e.study_uid and e.outcome == AuditOutcome.SUCCESS for e in received)
    associations = audit_events(session_factory, "dicom_association")
    assert sorted(e.instance_count for e in associations) == [0, len(files)]  # the echo, the study
    assert all(e.event_id == AuditEventId.INSTANCES_TRANSFERRED for e in associations)
    assert leftovers(receiver.settings) == []


def test_compressed_syntaxes_are_stored_as_received(
    receiver: ReceiverProcess, corpus: Path, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dcmtk("storescu", "dcmcjpeg", "dcmcjpls", "dcmconv")
    source = sorted(corpus.rglob("*.dcm"))
    run_tool("dcmcjpeg", source[0], tmp_path / "jpeg.dcm", check=True)
    run_tool("dcmcjpls", source[1], tmp_path / "jls.dcm", check=True)
    run_tool("dcmconv", "+td", source[2], tmp_path / "deflated.dcm", check=True)
    run_tool("dcmconv", "+ti", source[3], tmp_path / "implicit.dcm", check=True)
    write_j2k(source[4], tmp_path / "j2k.dcm")
    # storescu proposes a compressed syntax only when told which one (else it decompresses).
    proposals = {
        "jpeg": ("-xs", "1.2.840.10008.1.2.4.70"),
        "jls": ("-xt", "1.2.840.10008.1.2.4.80"),
        "deflated": ("-xd", "1.2.840.10008.1.2.1.99"),
        "implicit": ("-xi", "1.2.840.10008.1.2"),
        "j2k": ("-xv", "1.2.840.10008.1.2.4.90"),
    }
    receiver.start()
    for name, (flag, _syntax) in proposals.items():
        output = _store(receiver, tmp_path / f"{name}.dcm", extra=(flag,))
        assert "Received Store Response (Success)" in output, output
    assert receiver.stop() == 0, receiver.logs()

    index = indexed(session_factory)
    for name, (_flag, syntax) in proposals.items():
        sent = tmp_path / f"{name}.dcm"
        (sop,) = sop_uids([sent])
        assert index[sop].transfer_syntax_uid == syntax
        stored = receiver.settings.root / index[sop].stored_path
        assert dataset_bytes(stored) == dataset_bytes(sent), f"{name} not stored as received"


def test_malformed_datasets_get_cannot_understand_and_are_quarantined(
    receiver: ReceiverProcess, corpus: Path, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    dcmtk("storescu", "echoscu")
    no_study_uid = dataset_without_study_uid(tmp_path / "bad.dcm")
    receiver.start()
    output = _store(receiver, no_study_uid)
    assert "Error: CannotUnderstand" in output, output
    # storescu will not send a cut file; pynetdicom's chunked mode sends the bytes as they are.
    truncated = truncated_copy(min(corpus.rglob("*.dcm")), tmp_path / "cut" / "cut.dcm")
    assert send_raw(receiver.port, truncated) == 0xC210
    echo = run_tool("echoscu", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    assert echo.returncode == 0, "the receiver must survive bad input"
    assert receiver.stop() == 0

    assert indexed(session_factory) == {}
    reasons = {q.reason for q in quarantined(session_factory)}
    assert reasons == {"missing_uid", "truncated"}
    assert all((receiver.settings.root / q.quarantine_path).is_file() for q in quarantined(session_factory))
    events = audit_events(session_factory, "dicom_instance_received")
    assert len(events) == 2
    assert all(e.outcome == AuditOutcome.SERIOUS_FAILURE and e.detail["status"] == "0xC210" for e in events)
    assert leftovers(receiver.settings) == []


def test_unknown_calling_ae_is_rejected_and_audited(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session]
) -> None:
    dcmtk("echoscu")
    receiver.allowed_callers = "MODALITY1, MODALITY2"
    receiver.start()
    stranger = run_tool("echoscu", "-aet", "STRANGER", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    known = run_tool("echoscu", "-aet", "MODALITY2", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    assert receiver.stop() == 0
    assert stranger.returncode != 0 and "rejected" in (stranger.stdout + stranger.stderr).lower()
    assert known.returncode == 0
    (alert,) = audit_events(session_factory, "dicom_association_rejected")
    assert alert.event_id == AuditEventId.SECURITY_ALERT and alert.ae_title == "STRANGER"
    (accepted,) = audit_events(session_factory, "dicom_association")
    assert accepted.ae_title == "MODALITY2"


@pytest.mark.parametrize("processes", [1, 2])
def test_two_senders_at_once(
    receiver: ReceiverProcess, corpus: Path, session_factory: sessionmaker[Session], processes: int
) -> None:
    dcmtk("storescu")
    persons = sorted(p for p in corpus.iterdir() if p.is_dir())[:2]
    receiver.args = ("--processes", str(processes))
    receiver.start()
    outputs: dict[str, str] = {}
    senders = [
        threading.Thread(target=lambda p=p, i=i: outputs.update({f"M{i}": _store(receiver, p, aet=f"M{i}")}))
        for i, p in enumerate(persons)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert receiver.stop() == 0

    expected = sop_uids([f for p in persons for f in p.rglob("*.dcm")])
    assert set(indexed(session_factory)) == expected
    callers = {e.ae_title: e.instance_count for e in audit_events(session_factory, "dicom_association")}
    assert set(callers) == {"M0", "M1"} and sum(callers.values()) == len(expected)
    assert ("extra listener sgm-listener-1 serving" in receiver.logs()) == (processes == 2)
    assert "Traceback" not in receiver.logs()


def test_query_to_the_receiver_is_refused_cleanly(receiver: ReceiverProcess) -> None:
    dcmtk("findscu", "echoscu")
    receiver.start()
    find = run_tool(
        "findscu",
        "-S",
        "-aec",
        "SGM",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientID=*",
        "127.0.0.1",
        str(receiver.port),
    )
    echo = run_tool("echoscu", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    assert receiver.stop() == 0
    # A storage receiver, not an archive: no C-FIND context is accepted, and nothing breaks.
    assert find.returncode != 0 and "presentation context" in (find.stdout + find.stderr).lower()
    assert echo.returncode == 0


def test_settings_configure_the_receiver(settings: Settings) -> None:
    from emr_core.dimse.config import ReceiverConfig

    configured = settings.model_copy(update={"dicom_allowed_callers": " A ,B,, ", "dicom_port": 4006})
    config = ReceiverConfig.from_settings(configured)
    assert config.allowed_callers == ("A", "B") and config.port == 4006 and config.host == "127.0.0.1"
    assert config.spool_dir == settings.incoming_dir / "dimse"
