"""Where versions live: one interface over a local folder and S3-compatible object storage."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from emr_core.objectstore.s3 import s3_client
from sgm_datasets.errors import DatasetError, StoreUnreachableError, UnknownVersionError

HEADER = "header.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise DatasetError(f"not a dataset name: {name!r} (letters, digits, '.', '_', '-'; at most 64)")
    return name


class DatasetStore(Protocol):
    """A version is visible only once its header is in place; publishing is all or nothing."""

    def uri(self, name: str, version: str) -> str: ...
    def names(self) -> list[str]: ...
    def versions(self, name: str) -> list[str]: ...
    def read(self, name: str, version: str, rel: str) -> bytes: ...
    def open(self, name: str, version: str, rel: str) -> BinaryIO: ...
    def publish(self, name: str, version: str, staged: Path) -> None: ...
    def staging(self, name: str) -> Path: ...


class LocalDatasetStore:
    """A folder: <root>/<name>/<version>/; a version is staged beside it and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, name: str, version: str) -> str:
        return (self.root / name / version).resolve().as_uri()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_PATTERN.match(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / check_name(name)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if VERSION_PATTERN.match(p.name) and (p / HEADER).is_file())

    def _path(self, name: str, version: str, rel: str) -> Path:
        base = (self.root / check_name(name) / version).resolve()
        path = (base / rel).resolve()
        if not path.is_relative_to(base):
            raise DatasetError(f"not a file of the version: {rel}")
        return path

    def read(self, name: str, version: str, rel: str) -> bytes:
        with self.open(name, version, rel) as fh:
            return fh.read()

    def local_path(self, name: str, version: str, rel: str) -> Path:
        """The file itself, for copies that need not go through Python's buffers."""
        return self._path(name, version, rel)

    def open(self, name: str, version: str, rel: str) -> BinaryIO:
        try:
            return self._path(name, version, rel).open("rb")
        except FileNotFoundError:
            raise UnknownVersionError(f"{name}@{version}: {rel} is missing from the store") from None

    def staging(self, name: str) -> Path:
        # Inside the store's own folder so that publishing is one rename on one filesystem.
        parent = self.root / check_name(name)
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))

    def publish(self, name: str, version: str, staged: Path) -> None:
        target = self.root / check_name(name) / version
        if target.exists():
            shutil.rmtree(staged, ignore_errors=True)  # immutable: the same id already holds the same manifest
            return
        try:
            staged.rename(target)
        except OSError:
            if not (target / HEADER).is_file():
                raise
            shutil.rmtree(staged, ignore_errors=True)  # a concurrent export published the same id first


class S3DatasetStore:
    """A bucket prefix: s3://bucket/prefix/<name>/<version>/...; the header object is written last."""

    def __init__(self, bucket: str, prefix: str, client: Any, scratch: Path) -> None:
        self.bucket, self.prefix, self.client, self.scratch = bucket, prefix.strip("/"), client, scratch

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def uri(self, name: str, version: str) -> str:
        return f"s3://{self.bucket}/{self._key(name, version)}"

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise UnknownVersionError(f"{what} is missing from the store") from None
            raise StoreUnreachableError(f"dataset store s3://{self.bucket}: {code or exc}") from None
        except BotoCoreError as exc:
            raise StoreUnreachableError(f"dataset store s3://{self.bucket} cannot be reached: {exc}") from None

    def _list(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        kwargs = {"Bucket": self.bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
        pages = self._call(f"s3://{self.bucket}/{prefix}", lambda **k: list(paginator.paginate(**k)), **kwargs)
        yield from pages

    def names(self) -> list[str]:
        base = self._key() + "/" if self.prefix else ""
        found = {
            p["Prefix"][len(base) :].rstrip("/")
            for page in self._list(base, "/")
            for p in page.get("CommonPrefixes", [])
        }
        return sorted(n for n in found if NAME_PATTERN.match(n))

    def versions(self, name: str) -> list[str]:
        base = self._key(check_name(name)) + "/"
        found = set()
        for page in self._list(base):
            for obj in page.get("Contents", []):
                version, _, rest = obj["Key"][len(base) :].partition("/")
                if rest == HEADER and VERSION_PATTERN.match(version):
                    found.add(version)
        return sorted(found)

    def read(self, name: str, version: str, rel: str) -> bytes:
        with self.open(name, version, rel) as fh:
            return fh.read()

    def open(self, name: str, version: str, rel: str) -> BinaryIO:
        key = self._key(check_name(name), version, rel)
        response = self._call(f"{name}@{version}: {rel}", self.client.get_object, Bucket=self.bucket, Key=key)
        return response["Body"]

    def staging(self, name: str) -> Path:
        self.scratch.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".staging-{check_name(name)}-", dir=self.scratch))

    def publish(self, name: str, version: str, staged: Path) -> None:
        """Upload every file, the header last; on failure remove what was uploaded (no half version)."""
        try:
            if version in self.versions(name):
                return
            files = sorted(p for p in staged.rglob("*") if p.is_file() and p.name != HEADER)
            uploaded: list[str] = []
            try:
                for path in [*files, staged / HEADER]:
                    key = self._key(name, version, path.relative_to(staged).as_posix())
                    self._call(key, self.client.upload_file, Filename=str(path), Bucket=self.bucket, Key=key)
                    uploaded.append(key)
            except BaseException:
                self._delete(uploaded)
                raise
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})


def open_store(
    location: str,
    scratch: Path,
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
) -> DatasetStore:
    """A local folder, or s3://bucket/prefix through boto3 (endpoint and credentials from settings)."""
    if not location.startswith("s3://"):
        return LocalDatasetStore(Path(location).expanduser())
    bucket, _, prefix = location[len("s3://") :].partition("/")
    if not bucket:
        raise DatasetError(f"not an S3 location: {location!r} (use s3://bucket/prefix)")
    client = s3_client(endpoint_url, access_key, secret_key, region)
    return S3DatasetStore(bucket, prefix, client, scratch)
