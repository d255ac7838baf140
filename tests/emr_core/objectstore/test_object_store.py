"""The object store against a real S3 API (moto's server) and a local folder: one behaviour."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from emr_core.dicom.header import InstanceHeader, read_header, read_header_stream
from emr_core.objectstore import (
    LocalObjectStore,
    ObjectMissingError,
    ObjectStore,
    S3ObjectStore,
    StoreUnreachableError,
    object_store,
    open_stored,
)
from emr_core.objectstore.s3 import MIB
from emr_core.settings import Settings
from tests.support.dicom_factory import mg_dataset, write

PARTS = {"storage_multipart_bytes": 5 * MIB, "storage_part_bytes": 5 * MIB}  # the smallest S3 allows


def _settings(tmp_path: Path, url: str | None, endpoint: str = "", **extra: Any) -> Settings:
    return Settings(
        home=tmp_path / "sgm",
        storage_url=url,
        s3_endpoint_url=endpoint or None,
        s3_access_key_id="k",
        s3_secret_access_key="s",
        **extra,
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return object_store(_settings(tmp_path, None))
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
    return object_store(_settings(tmp_path, f"s3://{bucket}/archive", endpoint))


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_put_read_range_and_never_clobber(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    stored = store.put_file("a/b/c.dcm", _file(tmp_path / "src", data))
    assert stored.created and stored.size == len(data) and store.exists("a/b/c.dcm")
    assert store.size("a/b/c.dcm") == len(data) and store.sha256("a/b/c.dcm") == stored.sha256
    assert store.read_range("a/b/c.dcm", 1000, 50) == data[1000:1050]
    with store.open("a/b/c.dcm") as fp:
        fp.seek(-10, os.SEEK_END)
        assert fp.read() == data[-10:]
        fp.seek(0)
        assert fp.read() == data
    # Other bytes under the same key: kept out, reported as not created with their own hash.
    again = store.put_file("a/b/c.dcm", _file(tmp_path / "other", b"other"))
    assert not again.created and again.sha256 != stored.sha256 and store.sha256("a/b/c.dcm") == stored.sha256
    with store.local_path("a/b/c.dcm") as path:
        assert path.read_bytes() == data
    assert isinstance(store, LocalObjectStore) or not path.exists()  # remote copies are cleaned up
    store.delete("a/b/c.dcm")
    assert not store.exists("a/b/c.dcm")
    with pytest.raises(ObjectMissingError):
        store.open("a/b/c.dcm")


def test_locations_find_their_object_again(store: ObjectStore, tmp_path: Path) -> None:
    settings = _settings(tmp_path, None)
    stored = store.put_file("s/t/u.dcm", _file(tmp_path / "src", b"DICM-ish"))
    if isinstance(store, S3ObjectStore):
        assert stored.location == f"s3://{store.bucket}/archive/s/t/u.dcm"
        settings = settings.model_copy(update={"s3_endpoint_url": store.client.meta.endpoint_url})
    else:
        assert stored.location == "storage/s/t/u.dcm"  # relative to the data folder, as rows always were
    with open_stored(settings, stored.location) as fp:
        assert fp.read() == b"DICM-ish"


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "a/./b", ""])
def test_keys_cannot_leave_the_store(store: ObjectStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(OSError, match="not an object key"):
        store.put_file(key, _file(tmp_path / "src", b"x"))


def test_large_objects_go_up_in_parts(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, f"s3://{bucket}", s3_endpoint, storage_multipart_bytes=5 * MIB, storage_part_bytes=5 * MIB
    )
    store = object_store(settings)
    assert isinstance(store, S3ObjectStore)
    data = os.urandom(5 * MIB) * 2 + os.urandom(MIB)
    stored = store.put_file("big.dcm", _file(tmp_path / "big", data))
    etag = store.client.head_object(Bucket=bucket, Key="big.dcm")["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # S3 marks a multipart object's ETag with its part count
    assert store.sha256("big.dcm") == stored.sha256
    with store.open("big.dcm") as fp:
        assert fp.read() == data


class _FailingParts:
    """The real client, except that the second part upload fails (a connection lost mid-upload)."""

    def __init__(self, client: object) -> None:
        self._client, self.parts = client, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def upload_part(self, **kwargs: object) -> object:
        self.parts += 1
        if self.parts == 2:
            raise StoreUnreachableError("connection lost")
        return self._client.upload_part(**kwargs)  # type: ignore[attr-defined]


def test_a_failed_multipart_upload_leaves_nothing(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = object_store(
        _settings(tmp_path, f"s3://{bucket}", s3_endpoint, storage_multipart_bytes=5 * MIB, storage_part_bytes=5 * MIB)
    )
    assert isinstance(store, S3ObjectStore)
    real = store.client
    store._client = _FailingParts(real)
    with pytest.raises(StoreUnreachableError):
        store.put_file("big.dcm", _file(tmp_path / "big", os.urandom(11 * MIB)))
    assert not store.exists("big.dcm")
    assert real.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted, parts gone


class _Counted:
    """Counts the bytes each ranged GET brings back from the real server."""

    def __init__(self, store: S3ObjectStore) -> None:
        self.store, self.requests, self.bytes = store, 0, 0
        self._fetch_range = store.fetch_range

    def __call__(self, key: str, start: int, length: int) -> tuple[bytes, int]:
        data, total = self._fetch_range(key, start, length)
        self.requests += 1
        self.bytes += len(data)
        return data, total


def _index_remote(store: S3ObjectStore, source: Path) -> tuple[InstanceHeader, _Counted]:
    stored = store.put_file("mg.dcm", source)
    counted = _Counted(store)
    store.fetch_range = counted  # type: ignore[method-assign]
    with store.open("mg.dcm") as fp:
        header = read_header_stream(fp, stored.size, stored.location)
    assert isinstance(header, InstanceHeader)
    return header, counted


def test_header_indexing_reads_a_range_not_the_pixels(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = object_store(_settings(tmp_path, f"s3://{bucket}", s3_endpoint))
    assert isinstance(store, S3ObjectStore)
    source = write(tmp_path / "mg.dcm", mg_dataset(rows=1024, columns=832))  # 1.7 MB
    header, counted = _index_remote(store, source)
    local = read_header(source)
    assert header == local.__class__(**{**local.__dict__, "path": header.path})
    assert counted.requests == 1 and counted.bytes <= 16 * 1024, (counted.requests, counted.bytes)


def test_a_long_header_reads_further_ranges_and_still_stops_before_pixels(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    store = object_store(_settings(tmp_path, f"s3://{bucket}", s3_endpoint))
    assert isinstance(store, S3ObjectStore)
    ds = mg_dataset(rows=1024, columns=832)
    ds.add_new(0x00090010, "LO", "SGM TEST")  # a 60 kB private element: a header longer than 16 kB
    ds.add_new(0x00091010, "OB", b"x" * 60_000)
    source = write(tmp_path / "mg.dcm", ds)
    header, counted = _index_remote(store, source)
    assert header.sop_instance_uid == ds.SOPInstanceUID and header.rows == 1024
    size = source.stat().st_size
    # More than the first range was needed (Rows lies beyond the 60 kB element, which is skipped
    # by seeking rather than read), yet far less than the object.
    assert counted.requests >= 2 and counted.bytes < size // 4, (counted.requests, counted.bytes, size)


def test_an_unreachable_store_is_one_line(tmp_path: Path) -> None:
    from tests.support.servers import free_port

    settings = _settings(tmp_path, "s3://archive", f"http://127.0.0.1:{free_port()}")
    store = object_store(settings)
    with pytest.raises(StoreUnreachableError) as raised:
        store.put_file("k.dcm", _file(tmp_path / "src", b"x"))
    message = str(raised.value)
    assert "\n" not in message and message.startswith("object store s3://archive cannot be reached"), message


def test_storage_url_is_checked(tmp_path: Path) -> None:
    from emr_core.settings import ConfigError, load_settings

    for bad in ("relative/folder", "s3://", "http://bucket"):
        with pytest.raises(ConfigError, match="SGM_STORAGE_URL"):
            load_settings(home=tmp_path, storage_url=bad)
    folder = object_store(_settings(tmp_path, f"file://{tmp_path}/elsewhere"))
    assert isinstance(folder, LocalObjectStore) and folder.folder == tmp_path / "elsewhere"


def test_an_empty_object_reads_as_empty(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file("empty.dcm", _file(tmp_path / "empty", b""))
    with store.open("empty.dcm") as fp:
        assert fp.read() == b"" and fp.seek(0, os.SEEK_END) == 0
    assert store.read_range("empty.dcm", 0, 10) == b""
