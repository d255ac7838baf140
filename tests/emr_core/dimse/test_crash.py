"""The receiver SIGKILLed in the middle of a transfer loses no acknowledged instance."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from emr_core.dicom.header import InstanceHeader, read_header
from tests.emr_core.dimse.dimse_checks import (
    audit_events,
    dataset_bytes,
    indexed,
    leftovers,
    sop_uids,
)
from tests.emr_core.dimse.peers import PEER_ENV, ReceiverProcess, dcmtk

KILL_AFTER_ACKS = 4


def _send_until_acks(receiver: ReceiverProcess, files: list[Path], acks: int) -> tuple[list[Path], str]:
    """storescu the files; SIGKILL the receiver once `acks` have been acknowledged."""
    args = ["storescu", "-v", "-aet", "MODALITY", "-aec", "SGM", "127.0.0.1", str(receiver.port), *map(str, files)]
    acknowledged: list[Path] = []
    output: list[str] = []
    current: Path | None = None
    with subprocess.Popen(args, env=PEER_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as sender:
        assert sender.stdout is not None
        for line in sender.stdout:
            output.append(line)
            if "Sending file:" in line:
                current = Path(line.split("Sending file:", 1)[1].strip())
            elif "Received Store Response (Success)" in line and current is not None:
                acknowledged.append(current)
                if len(acknowledged) == acks:
                    receiver.kill()
    return acknowledged, "".join(output)


def test_killed_receiver_keeps_every_acknowledged_instance(
    receiver: ReceiverProcess, large_corpus: Path, session_factory: sessionmaker[Session]
) -> None:
    dcmtk("storescu")
    files = sorted(large_corpus.rglob("*.dcm"))
    receiver.start()
    acknowledged, output = _send_until_acks(receiver, files, KILL_AFTER_ACKS)
    assert len(acknowledged) == KILL_AFTER_ACKS < len(files), f"the kill must land mid-transfer:\n{output}"
    spool = receiver.settings.incoming_dir / "dimse"
    for spooled in (p for p in spool.rglob("*.dcm") if not p.name.startswith(".")):
        assert isinstance(read_header(spooled), InstanceHeader), f"half-written {spooled} published"

    receiver.start()  # recovers the spool, then serves
    assert receiver.stop() == 0, receiver.logs()

    index = indexed(session_factory)
    assert sop_uids(acknowledged) <= set(index)
    for sent in acknowledged:
        (sop,) = sop_uids([sent])
        assert dataset_bytes(receiver.settings.root / index[sop].stored_path) == dataset_bytes(sent)
    for instance in index.values():  # nothing half-written reached storage or the index
        assert isinstance(read_header(receiver.settings.root / instance.stored_path), InstanceHeader)
    assert leftovers(receiver.settings) == []
    ended = {e.detail["ended"] for e in audit_events(session_factory, "dicom_association")}
    assert "interrupted" in ended
