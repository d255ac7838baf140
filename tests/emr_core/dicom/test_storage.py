"""Managed storage: safe UID paths, atomic no-clobber writes, hash and size in one pass."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from emr_core.dicom.storage import (
    TEMP_PREFIX,
    hash_file,
    instance_path,
    safe_component,
    store_by_content,
    store_bytes,
    store_file,
)


@pytest.mark.parametrize(
    "uid",
    ["../../etc/passwd", "/abs/path", "a/b", "..", ".", "", " ", "1.2\x00.3", "..\\..\\x",
     ".hidden", "1.2.3/../../..", "é.1"],
)  # fmt: skip
def test_no_uid_escapes_storage(tmp_path: Path, uid: str) -> None:
    storage = tmp_path / "storage"
    path = instance_path(storage, uid, uid, uid)
    assert path.resolve().is_relative_to(storage.resolve())
    assert len(path.relative_to(storage).parts) == 3
    assert all(part not in ("", ".", "..") and not part.startswith(".") for part in path.relative_to(storage).parts)


def test_plain_uids_are_kept_and_altered_ones_stay_distinct(tmp_path: Path) -> None:
    assert instance_path(tmp_path, "1.2", "1.3", "1.4") == tmp_path / "1.2" / "1.3" / "1.4.dcm"
    assert safe_component("1/2") != safe_component("1_2") != safe_component("1\\2")
    assert safe_component("1/2") != safe_component("1\\2")


def test_store_file_hashes_while_copying(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    stored = store_file(source, tmp_path / "out" / "a.dcm")
    assert stored.created and stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() == hash_file(stored.path)[0]
    assert stored.path.read_bytes() == data
    assert not [p for p in stored.path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_existing_target_is_never_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "a.dcm"
    first = store_bytes(b"first", target)
    mtime = target.stat().st_mtime_ns
    second = store_bytes([b"sec", b"ond"], target)
    assert (first.created, second.created) == (True, False)
    assert second.sha256 == hashlib.sha256(b"second").hexdigest()
    assert target.read_bytes() == b"first" and target.stat().st_mtime_ns == mtime
    assert store_bytes(b"third", target, overwrite=True).created
    assert target.read_bytes() == b"third"
    assert [p.name for p in tmp_path.iterdir()] == ["a.dcm"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    def chunks():
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError):
        store_bytes(chunks(), tmp_path / "a.dcm")
    assert list(tmp_path.iterdir()) == []


def test_store_by_content_is_idempotent(tmp_path: Path) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(b"same bytes")
    first = store_by_content(source, tmp_path / "q")
    second = store_by_content(source, tmp_path / "q")
    assert first.path == second.path == tmp_path / "q" / hashlib.sha256(b"same bytes").hexdigest()
    assert (first.created, second.created) == (True, False)
    assert len(list((tmp_path / "q").iterdir())) == 1
