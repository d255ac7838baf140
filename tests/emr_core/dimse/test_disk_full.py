"""A full disk under the receiver: Out of Resources (0xA700), never an abort; ingest retried once
space returns, without a restart; partial receives removed when an association ends early.

The data folder is a small tmpfs mounted for the test (root only; CI=true fails rather than skips).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from sqlalchemy.orm import Session, sessionmaker

from emr_core.settings import Settings
from emr_core.vocabulary.dicom import OUT_OF_RESOURCES, SUCCESS
from tests.conftest import require_peer
from tests.emr_core.dimse.dimse_checks import audit_events, dataset_bytes, indexed, leftovers
from tests.emr_core.dimse.peers import ReceiverProcess

sys.path.insert(0, str(Path(__file__).parents[1] / "dicom"))
from tests.support.dicom_factory import MG_FOR_PRESENTATION, mg_dataset, write

DISK = 4 * 1024 * 1024
IMAGE_BYTES = 600 * 512 * 2  # ~600 KB of pixel data


@pytest.fixture
def small_disk(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs as the data folder (spool, partial receives, storage)."""
    require_peer(os.geteuid() == 0, "mounting a tmpfs needs root")
    settings.root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(settings.root)], check=True)
    try:
        yield settings.root
    finally:
        subprocess.run(["umount", "-l", str(settings.root)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A ballast file leaving about `leave` bytes free."""
    stat = os.statvfs(folder)
    ballast = folder / "ballast"
    ballast.write_bytes(b"\x01" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return ballast


def _image(tmp_path: Path, name: str) -> Path:
    return write(tmp_path / name, mg_dataset(rows=600, columns=512))


def _wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_full_disk_answers_out_of_resources_and_keeps_serving(
    small_disk: Path, receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    receiver.log_dir = tmp_path
    receiver.start()
    ae = AE("MODALITY")
    ae.add_requested_context(MG_FOR_PRESENTATION, ExplicitVRLittleEndian)
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", receiver.port, ae_title="SGM")
    assert assoc.is_established
    first = _image(tmp_path, "first.dcm")
    ballast = _fill(small_disk, IMAGE_BYTES // 3)
    status = assoc.send_c_store(first)
    assert int(status.Status) == OUT_OF_RESOURCES, status
    assert assoc.is_established, "a full disk must not abort the association"
    assert list((small_disk / "dimse" / "partial").iterdir()) == [], "the failed receive left a partial file"
    ballast.unlink()
    assert int(assoc.send_c_store(first).Status) == SUCCESS  # same association, space is back
    assoc.release()
    assert _wait_for(lambda: len(indexed(session_factory)) == 1, 30)
    assert receiver.stop() == 0, receiver.logs()
    statuses = sorted(e.detail["status"] for e in audit_events(session_factory, "dicom_instance_received"))
    assert statuses == ["0x0000", "0xA700"]
    assert leftovers(receiver.settings) == []


def test_spooled_file_is_ingested_once_space_returns_without_restart(
    small_disk: Path, receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    receiver.log_dir = tmp_path
    receiver.extra_env = {"SGM_DICOM_SPOOL_RETRY_SECONDS": "1"}
    receiver.start()
    image = _image(tmp_path, "image.dcm")
    # Room to spool the file (the acknowledgement), not to copy it into storage as well.
    ballast = _fill(small_disk, IMAGE_BYTES * 3 // 2)
    ae = AE("MODALITY")
    ae.add_requested_context(MG_FOR_PRESENTATION, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", receiver.port, ae_title="SGM")
    assert int(assoc.send_c_store(image).Status) == SUCCESS
    assoc.release()
    spool = receiver.settings.incoming_dir / "dimse"
    assert _wait_for(lambda: "not ingested; retrying" in receiver.logs(), 30), receiver.logs()
    assert indexed(session_factory) == {} and [p for p in spool.rglob("*.dcm")]
    ballast.unlink()
    assert _wait_for(lambda: len(indexed(session_factory)) == 1, 30), receiver.logs()
    assert _wait_for(lambda: leftovers(receiver.settings) == [], 10), leftovers(receiver.settings)
    assert receiver.proc is not None and receiver.proc.poll() is None  # the same process did it
    assert receiver.stop() == 0


def _send_part_of(assoc: Any, path: Path, fragments: int) -> None:
    """Send the C-STORE command and the first fragments of the data set, then stop."""
    request = C_STORE()
    request.MessageID, request.Priority = 1, 2
    request.AffectedSOPClassUID = MG_FOR_PRESENTATION
    request.AffectedSOPInstanceUID = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    request.DataSet = io.BytesIO(dataset_bytes(path))
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    (context,) = assoc.accepted_contexts
    for n, pdata in enumerate(message.encode_msg(context.context_id, 16384)):
        if n == fragments:
            return
        assoc.dul.send_pdu(pdata)


def test_partial_receive_is_removed_when_the_association_aborts(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    receiver.start()
    big = write(tmp_path / "big.dcm", mg_dataset(rows=1024, columns=832))  # ~1.7 MB
    partial = receiver.settings.root / "dimse" / "partial"
    ae = AE("MODALITY")
    ae.add_requested_context(MG_FOR_PRESENTATION, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", receiver.port, ae_title="SGM")
    assert assoc.is_established
    _send_part_of(assoc, big, fragments=20)
    assert _wait_for(lambda: any(partial.iterdir()), 10), "no partial receive to cut"
    assoc.abort()
    assert _wait_for(lambda: not any(partial.iterdir()), 10), list(partial.iterdir())
    assert receiver.proc is not None and receiver.proc.poll() is None
    assert receiver.stop() == 0
    assert indexed(session_factory) == {}
    assert leftovers(receiver.settings) == []


def test_recovery_that_fails_at_start_up_is_retried_once_space_returns(
    small_disk: Path, receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    receiver.log_dir = tmp_path
    receiver.extra_env = {"SGM_DICOM_SPOOL_RETRY_SECONDS": "1"}
    folder = receiver.settings.incoming_dir / "dimse" / "20260101T000000-0123456789ab"
    folder.mkdir(parents=True)
    image = _image(tmp_path, "image.dcm")
    (folder / "000001-left.dcm").write_bytes(image.read_bytes())
    ballast = _fill(small_disk, IMAGE_BYTES // 2)  # no room to copy it into storage
    receiver.start()
    assert _wait_for(lambda: "not ingested; retrying" in receiver.logs(), 30), receiver.logs()
    assert indexed(session_factory) == {}
    ballast.unlink()
    assert _wait_for(lambda: len(indexed(session_factory)) == 1, 30), receiver.logs()
    assert _wait_for(lambda: leftovers(receiver.settings) == [], 10), leftovers(receiver.settings)
    assert receiver.stop() == 0
