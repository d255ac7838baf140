"""The receiver with its archive in S3 (moto's server on loopback): an answer only for an object in S3."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from sqlalchemy.orm import Session, sessionmaker

from emr_core.dicom.render import cached_render, render_png
from emr_core.settings import Settings
from emr_core.vocabulary.dicom import OUT_OF_RESOURCES, SUCCESS
from tests.emr_core.dimse.dimse_checks import audit_events, indexed, leftovers, sop_uids
from tests.emr_core.dimse.peers import ReceiverProcess, dcmtk, run_tool
from tests.support.dicom_factory import MG_FOR_PRESENTATION, mg_dataset, write
from tests.support.servers import free_port, fresh_bucket, moto_s3, s3_endpoint, s3_test_client

PREFIX = "archive"
__all__ = ["s3_endpoint"]  # the module's moto server (a fixture)


def _bucket(endpoint: str, tmp_path: Path) -> str:
    return fresh_bucket(endpoint, "pacs", tmp_path)


def _s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "SGM_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
        "SGM_S3_ENDPOINT_URL": endpoint,
        "SGM_S3_ACCESS_KEY_ID": "k",
        "SGM_S3_SECRET_ACCESS_KEY": "s",
    }


def _keys(endpoint: str, bucket: str) -> list[str]:
    return [o["Key"] for o in s3_test_client(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])]


def _local_objects(settings: Settings) -> list[Path]:
    return [p for p in settings.storage_dir.rglob("*") if p.is_file()] if settings.storage_dir.exists() else []


def test_acknowledged_instances_are_already_in_s3_and_read_back_from_there(
    receiver: ReceiverProcess, corpus: Path, session_factory: sessionmaker[Session], s3_endpoint: str, tmp_path: Path
) -> None:
    dcmtk("storescu")
    bucket = _bucket(s3_endpoint, tmp_path)
    receiver.extra_env = _s3_env(s3_endpoint, bucket)
    receiver.start()
    study = next(p for p in corpus.glob("*/*") if p.is_dir())
    files = sorted(study.glob("*.dcm"))
    sent = run_tool("storescu", "-aet", "MODALITY", "-aec", "SGM", "+sd", "-v", "127.0.0.1", str(receiver.port), study)
    answers = (sent.stdout + sent.stderr).count("Received Store Response (Success)")
    # storescu has had every answer: each acknowledged instance is an object in S3 by now.
    assert answers == len(files) == len(_keys(s3_endpoint, bucket)), sent.stdout + sent.stderr
    assert receiver.stop() == 0, receiver.logs()
    rows = indexed(session_factory)
    assert set(rows) == sop_uids(files)
    assert all(r.stored_path.startswith(f"s3://{bucket}/{PREFIX}/") for r in rows.values())
    assert _local_objects(receiver.settings) == [] and leftovers(receiver.settings) == []
    # Rendering (what the viewer and the API serve) reads the object from S3.
    reader = receiver.settings.model_copy(update=_settings_update(s3_endpoint, bucket))
    one = next(iter(rows.values()))
    png = cached_render(reader, one.sop_instance_uid, one.stored_path, 256)
    source = next(f for f in files if sop_uids([f]) == {one.sop_instance_uid})
    assert png.read_bytes() == render_png(source, 256).png


def _settings_update(endpoint: str, bucket: str) -> dict[str, Any]:
    return {
        "storage_url": f"s3://{bucket}/{PREFIX}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "k",
        "s3_secret_access_key": SecretStr("s"),  # model_copy does not validate
    }


def _cut_mid_transfer(port: int, path: Path) -> None:
    """C-STORE path, but drop the connection once half of the data set's PDU is on the wire."""
    ae = AE("CUTTER")
    ae.add_requested_context(MG_FOR_PRESENTATION, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="SGM")
    assert assoc.is_established
    sock = assoc.dul.socket
    assert sock is not None and sock.socket is not None
    raw, send = sock.socket, sock.send

    def cut(data: bytes) -> None:
        if len(data) < 100_000:
            send(data)
            return
        raw.sendall(data[: len(data) // 2])
        raw.shutdown(socket.SHUT_RDWR)  # the peer vanishes in the middle of the data set
        raw.close()

    sock.send = cut  # type: ignore[method-assign,assignment]
    sender = threading.Thread(target=lambda: _quietly(assoc.send_c_store, path), daemon=True)
    sender.start()
    sender.join(30)


def _quietly(fn: Any, *args: Any) -> None:
    with contextlib.suppress(Exception):  # the cut itself
        fn(*args)


def test_a_peer_cut_mid_transfer_leaves_no_object(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], s3_endpoint: str, tmp_path: Path
) -> None:
    bucket = _bucket(s3_endpoint, tmp_path)
    receiver.extra_env = _s3_env(s3_endpoint, bucket)
    receiver.start()
    image = write(tmp_path / "big.dcm", mg_dataset(rows=1024, columns=832))
    _cut_mid_transfer(receiver.port, image)
    whole = write(tmp_path / "whole.dcm", mg_dataset(rows=64, columns=48))
    assert _send(receiver.port, whole) == SUCCESS  # the receiver serves on
    assert receiver.stop() == 0, receiver.logs()
    assert len(_keys(s3_endpoint, bucket)) == 1 and set(indexed(session_factory)) == sop_uids([whole])
    assert leftovers(receiver.settings) == []
    assert "removing a partial receive" in receiver.logs()


def _send(port: int, path: Path) -> int:
    ae = AE("MODALITY")
    ae.add_requested_context(MG_FOR_PRESENTATION, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="SGM")
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(path).Status)
    finally:
        assoc.release()


def test_s3_unreachable_acknowledges_nothing_and_says_so_in_one_line(
    receiver: ReceiverProcess, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    image = write(tmp_path / "mg.dcm", mg_dataset(rows=256, columns=208))
    with moto_s3(tmp_path / "moto.log") as endpoint:
        bucket = _bucket(endpoint, tmp_path)
        receiver.extra_env = _s3_env(endpoint, bucket)
        receiver.log_dir = tmp_path
        receiver.start()
    # The S3 server is gone while the receiver runs: Out of Resources, nothing kept.
    assert _send(receiver.port, image) == OUT_OF_RESOURCES
    assert receiver.stop() == 0, receiver.logs()
    assert indexed(session_factory) == {} and leftovers(receiver.settings) == []
    statuses = [e.detail["status"] for e in audit_events(session_factory, "dicom_instance_received")]
    assert statuses == ["0xA700"]
    assert "cannot be reached" in receiver.logs()
    # Started while S3 is unreachable: a one-line error, no listening port, no traceback.
    receiver.extra_env = _s3_env(f"http://127.0.0.1:{free_port()}", bucket)
    with pytest.raises(RuntimeError):
        receiver.start()
    last = receiver.logs().strip().splitlines()[-1]
    assert last.startswith(f"Error: object store s3://{bucket} cannot be reached"), receiver.logs()
    assert "Traceback" not in receiver.logs().split("receiver stopped")[-1]
