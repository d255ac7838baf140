"""The S3 store against a real S3 API (moto's server on loopback): publish, list, pull, nothing half-written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from sgm_datasets.errors import GateFailedError, StoreUnreachableError, UnknownVersionError
from sgm_datasets.pull import pull_version, resolve
from sgm_datasets.store import HEADER, S3DatasetStore, open_store
from tests.conftest import SgmCli
from tests.sgm_datasets.conftest import State
from tests.support.servers import s3_endpoint

BUCKET = "research"
__all__ = ["s3_endpoint"]  # the module's moto server (a fixture)


@pytest.fixture
def s3_store(s3_endpoint: str, tmp_path: Path) -> S3DatasetStore:
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    bucket = f"{BUCKET}-{tmp_path.name.lower().replace('_', '-')[-30:]}"
    client.create_bucket(Bucket=bucket)
    store = open_store(f"s3://{bucket}/sites/a", tmp_path / "scratch", s3_endpoint, "k", "s")
    assert isinstance(store, S3DatasetStore)
    return store


def _keys(store: S3DatasetStore) -> list[str]:
    response = store.client.list_objects_v2(Bucket=store.bucket)
    return [o["Key"] for o in response.get("Contents", [])]


def test_publish_list_and_verified_pull(state: State, s3_store: S3DatasetStore, tmp_path: Path) -> None:
    state.consolidate(state.studies()[:2])
    result = state.export(s3_store)
    assert s3_store.names() == ["screening"] and s3_store.versions("screening") == [result.version]
    assert resolve(s3_store, "screening", result.version[:10]) == result.version
    assert state.export(s3_store).version == result.version  # unchanged state, same id, nothing rewritten
    report = pull_version(s3_store, "screening", result.version, tmp_path / "out")
    assert report.files == len(result.header["files"]) and (tmp_path / "out" / HEADER).is_file()
    assert all(k.startswith(f"sites/a/screening/{result.version}/") for k in _keys(s3_store))
    assert not list((tmp_path / "scratch").iterdir())  # staging cleaned after upload


def test_failed_gate_and_failed_upload_leave_no_prefix(state: State, s3_store: S3DatasetStore) -> None:
    state.consolidate(state.studies()[:1])
    with pytest.raises(GateFailedError):
        state.export(s3_store, blocking_failures=["linked_studies_quality"])
    assert _keys(s3_store) == []

    class DropsBeforeHeader(S3DatasetStore):
        """The connection is lost just before the header: the uploaded objects must be removed."""

        def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
            if kwargs.get("Key", "").endswith(HEADER) and fn == self.client.upload_file:
                raise StoreUnreachableError("connection lost")
            return super()._call(what, fn, **kwargs)

    failing = DropsBeforeHeader(s3_store.bucket, s3_store.prefix, s3_store.client, s3_store.scratch)
    with pytest.raises(StoreUnreachableError):
        state.export(failing)
    assert _keys(s3_store) == [] and s3_store.versions("screening") == []


def test_unknown_version_and_corrupt_object(state: State, s3_store: S3DatasetStore, tmp_path: Path) -> None:
    with pytest.raises(UnknownVersionError, match="unknown dataset version screening@abcdef"):
        resolve(s3_store, "screening", "abcdef")
    state.consolidate(state.studies()[:1])
    version = state.export(s3_store).version
    png = next(f["path"] for f in state.export(s3_store).header["files"] if f["path"].endswith(".png"))
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=f"sites/a/screening/{version}/{png}", Body=b"x")
    with pytest.raises(Exception, match=png.replace(".", r"\.")):
        pull_version(s3_store, "screening", version, tmp_path / "out")


def test_cli_against_s3_settings(
    sgm: SgmCli,
    state: State,
    s3_store: S3DatasetStore,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SGM_DATASET_STORE", f"s3://{s3_store.bucket}/sites/a")
    monkeypatch.setenv("SGM_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("SGM_S3_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("SGM_S3_SECRET_ACCESS_KEY", "s")
    state.consolidate(state.studies()[:1])
    exported = sgm("dataset", "export", "screening", "--no-mlflow")
    assert exported.exit_code == 0, exported.output
    version = s3_store.versions("screening")[0]
    pulled = sgm("dataset", "pull", f"screening@{version[:8]}", str(tmp_path / "p"))
    assert pulled.exit_code == 0, pulled.output
    missing = sgm("dataset", "show", "other@latest")
    assert missing.exit_code == 1 and missing.output.strip() == "Error: unknown dataset version other@latest"


def test_large_objects_go_up_in_parts_and_come_back_whole(s3_store: S3DatasetStore, tmp_path: Path) -> None:
    import hashlib
    import json
    import os

    staged = s3_store.staging("big")
    payload = os.urandom(20 * 1024 * 1024)  # above boto3's 8 MB multipart threshold: three parts
    (staged / "dicom").mkdir()
    (staged / "dicom" / "large.dcm").write_bytes(payload)
    files = [{"path": "dicom/large.dcm", "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}]
    (staged / HEADER).write_text(json.dumps({"files": files, "created_at": "2026-01-01T00:00:00"}))
    version = "a" * 64
    s3_store.publish("big", version, staged)
    key = f"sites/a/big/{version}/dicom/large.dcm"
    etag = s3_store.client.head_object(Bucket=s3_store.bucket, Key=key)["ETag"]
    assert "-" in etag  # a multipart upload's ETag ends in -<number of parts>
    report = pull_version(s3_store, "big", version, tmp_path / "big")
    assert report.bytes == len(payload) and (tmp_path / "big" / "dicom" / "large.dcm").read_bytes() == payload


def test_load_dataset_pulls_a_remote_version_once_and_audits_it(
    state: State, s3_store: S3DatasetStore, s3_endpoint: str
) -> None:
    from sqlalchemy import select

    from emr_core.db import session_scope
    from emr_core.models import AuditEvent
    from emr_core.settings import Settings
    from sgm_datasets.api import load_dataset

    state.consolidate(state.studies()[:1])
    version = state.export(s3_store).version
    settings = Settings(
        home=state.settings.home,
        database_url=state.settings.url,
        dataset_store=f"s3://{s3_store.bucket}/sites/a",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    manifest, root = load_dataset("screening", "latest", settings=settings)
    assert len(manifest) == 4 and all((root / p).is_file() for p in manifest["png_path"])
    load_dataset("screening", version[:8], settings=settings)  # cached: no second pull
    with session_scope(state.sessions) as session:
        pulls = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "dataset.pull")).all()
        assert [p.detail["version"] for p in pulls] == [version]
