"""Poison and inconsistent data sets over C-STORE, and a poison file in the spool at start-up."""

from __future__ import annotations

import sys
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from sqlalchemy.orm import Session, sessionmaker

from emr_core.vocabulary.dicom import (
    CANNOT_UNDERSTAND_HEADER,
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
    SOP_INSTANCE_MISMATCH,
    SUCCESS,
)
from tests.emr_core.dimse.dimse_checks import audit_events, dataset_bytes, indexed, leftovers, quarantined
from tests.emr_core.dimse.peers import ReceiverProcess, dcmtk, run_tool
from tests.emr_core.dimse.raw_peer import send_dataset

sys.path.insert(0, str(Path(__file__).parents[1] / "dicom"))
from tests.support.dicom_factory import (
    FILE_META_ELEMENT,
    IMPLICIT_VR_ELEMENT,
    MG_FOR_PRESENTATION,
    UNKNOWN_VR_ELEMENT,
    mg_dataset,
    write,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def _mg(folder: Path, name: str) -> tuple[Path, str]:
    ds = mg_dataset()
    return write(folder / name, ds), str(ds.SOPInstanceUID)


def _send(receiver: ReceiverProcess, data: bytes, sop: str, sop_class: str = MG_FOR_PRESENTATION) -> tuple[int, str]:
    return send_dataset(receiver.port, sop_class, sop, ExplicitVRLittleEndian, data)


def test_poison_data_sets_are_refused_and_quarantined_with_their_reason(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Point 9 and 13: unknown VR, implicit VR in explicit, a group 0002 element in the data set."""
    dcmtk("echoscu")
    receiver.start()
    expected = {}
    for reason, element in (
        ("unknown_vr", UNKNOWN_VR_ELEMENT),
        ("implicit_vr_in_explicit", IMPLICIT_VR_ELEMENT),
        ("file_meta_in_dataset", FILE_META_ELEMENT),
    ):
        path, sop = _mg(tmp_path, f"{reason}.dcm")
        status, comment = _send(receiver, element + dataset_bytes(path), sop)
        assert status == CANNOT_UNDERSTAND_HEADER and comment.startswith(reason), (status, comment)
        expected[sop] = reason
    assert run_tool("echoscu", "-aec", "SGM", "127.0.0.1", str(receiver.port)).returncode == 0
    assert receiver.stop() == 0, receiver.logs()

    assert indexed(session_factory) == {}
    assert sorted(q.reason for q in quarantined(session_factory)) == sorted(expected.values())
    events = {e.sop_instance_uid: e for e in audit_events(session_factory, "dicom_instance_received")}
    assert set(events) == set(expected)
    assert all(e.detail["status"] == "0xC210" and expected[s] in e.detail["problem"] for s, e in events.items())
    assert leftovers(receiver.settings) == []
    assert "Traceback" not in receiver.logs()


def test_command_uids_that_contradict_the_data_set_are_refused(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Point 13: the command's SOP Class or Instance UID differs from the data set: nothing stored."""
    receiver.start()
    path, sop = _mg(tmp_path, "a.dcm")
    data = dataset_bytes(path)
    other = generate_uid()
    status, comment = _send(receiver, data, other)
    assert status == SOP_INSTANCE_MISMATCH and "SOP Instance" in comment, comment
    status, comment = _send(receiver, data, sop, sop_class=CT_IMAGE)
    assert status == DATA_SET_DOES_NOT_MATCH_SOP_CLASS and "SOP Class" in comment, comment
    assert _send(receiver, data, sop) == (SUCCESS, "")  # the same bytes, named right, are stored
    assert receiver.stop() == 0, receiver.logs()

    assert set(indexed(session_factory)) == {sop}
    stored = receiver.settings.root / indexed(session_factory)[sop].stored_path
    assert dataset_bytes(stored) == data
    assert quarantined(session_factory) == []
    statuses = sorted(e.detail["status"] for e in audit_events(session_factory, "dicom_instance_received"))
    assert statuses == ["0x0000", "0xA900", "0xC212"]
    assert leftovers(receiver.settings) == []


def test_a_poison_file_in_the_spool_does_not_stop_start_up(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Point 9: files left in the spool by an earlier run, one of them poison: start, ingest, quarantine."""
    dcmtk("echoscu")
    folder = receiver.settings.incoming_dir / "dimse" / "20260101T000000-0123456789ab"
    good, good_sop = _mg(tmp_path, "good.dcm")
    poison, _ = _mg(tmp_path, "poison.dcm")
    raw = poison.read_bytes()
    start = 144 + int.from_bytes(raw[140:144], "little")
    folder.mkdir(parents=True)
    (folder / "000001-poison.dcm").write_bytes(raw[:start] + UNKNOWN_VR_ELEMENT + raw[start:])
    (folder / "000002-good.dcm").write_bytes(good.read_bytes())
    receiver.start()
    assert run_tool("echoscu", "-aec", "SGM", "127.0.0.1", str(receiver.port)).returncode == 0
    assert receiver.stop() == 0, receiver.logs()
    assert set(indexed(session_factory)) == {good_sop}
    assert [q.reason for q in quarantined(session_factory)] == ["unknown_vr"]
    assert leftovers(receiver.settings) == []
    receiver.start()  # and again: nothing left to trip on
    assert receiver.stop() == 0
