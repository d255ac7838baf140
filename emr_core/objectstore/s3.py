"""Objects in an S3-compatible bucket (boto3): multipart above a threshold, ranged reads.

A put returns only once S3 has answered the PutObject or CompleteMultipartUpload: from then on
the object is whole and durable (S3 never shows a partial object), so the receiver may answer
its sender. A failed multipart upload is aborted, leaving nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from emr_core.objectstore.base import (
    ObjectMissingError,
    ObjectStoreError,
    StoredObject,
    StoreUnreachableError,
    check_key,
    hash_stream,
)
from emr_core.objectstore.files import hash_file
from emr_core.objectstore.ranged import RangedReader

T = TypeVar("T")
SHA256_META = "sha256"  # x-amz-meta-sha256: the content hash, so that no one downloads to know it
MIB = 1024 * 1024


def s3_client(
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
) -> Any:
    """A boto3 S3 client; unset credentials fall back to boto3's chain (AWS_* env, shared files, roles)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        region_name=region or "us-east-1",
        config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2}),
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/prefix → (bucket, prefix without slashes at its ends)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ObjectStoreError(f"not an S3 location: {url!r} (use s3://bucket/prefix)")
    return bucket, prefix.strip("/")


class S3ObjectStore:
    """s3://bucket/prefix/<key>. The boto3 client is made on first use and never pickled."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        make_client: Callable[[], Any],
        multipart_threshold: int = 64 * MIB,
        part_size: int = 16 * MIB,
    ) -> None:
        self.bucket, self.prefix, self._make_client = bucket, prefix.strip("/"), make_client
        self.multipart_threshold, self.part_size = multipart_threshold, max(part_size, 5 * MIB)
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}  # worker processes make their own

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """Run one S3 call, turning boto's exceptions into one-line store errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissingError(f"no stored object s3://{self.bucket}/{what}") from None
            raise StoreUnreachableError(f"object store s3://{self.bucket}: {code or exc} ({what})") from None
        except BotoCoreError as exc:
            raise StoreUnreachableError(f"object store s3://{self.bucket} cannot be reached: {exc}") from None

    def _head(self, key: str) -> dict[str, Any]:
        full = self.object_key(key)
        return self.call(full, self.client.head_object, Bucket=self.bucket, Key=full)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except ObjectMissingError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def sha256(self, key: str) -> str:
        """From the object's metadata; objects put by other tools are hashed by reading them."""
        known = self._head(key).get("Metadata", {}).get(SHA256_META)
        if known:
            return str(known)
        with self.open(key) as fp:
            return hash_stream(fp)[0]

    def put_file(self, key: str, source: str | Path, overwrite: bool = False) -> StoredObject:
        """Upload a local file; without overwrite an existing object is kept (created=False)."""
        sha256, size = hash_file(source)  # first, so the hash travels in the object's metadata
        stored = StoredObject(check_key(key), self.location(key), sha256, size, created=True)
        if not overwrite and self.exists(key):
            return StoredObject(key, stored.location, sha256, size, created=False)
        if size < self.multipart_threshold:
            with open(source, "rb") as body:
                self._put(key, body, sha256)
        else:
            self._multipart(key, source, sha256)
        return stored

    def _put(self, key: str, body: BinaryIO, sha256: str) -> None:
        full = self.object_key(key)
        self.call(full, self.client.put_object, Bucket=self.bucket, Key=full, Body=body, Metadata={SHA256_META: sha256})

    def _multipart(self, key: str, source: str | Path, sha256: str) -> None:
        full = self.object_key(key)
        started = self.call(
            full, self.client.create_multipart_upload, Bucket=self.bucket, Key=full, Metadata={SHA256_META: sha256}
        )
        upload = {"Bucket": self.bucket, "Key": full, "UploadId": started["UploadId"]}
        try:
            parts = list(self._upload_parts(full, source, upload))
            self.call(full, self.client.complete_multipart_upload, **upload, MultipartUpload={"Parts": parts})
        except BaseException:
            # Best effort: an unreachable store keeps the parts, which its lifecycle rule expires.
            with suppress(ObjectStoreError):
                self.call(full, self.client.abort_multipart_upload, **upload)
            raise

    def _upload_parts(self, full: str, source: str | Path, upload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with open(source, "rb") as fp:
            number = 1
            while data := fp.read(self.part_size):
                answer = self.call(full, self.client.upload_part, **upload, PartNumber=number, Body=data)
                yield {"PartNumber": number, "ETag": answer["ETag"]}
                number += 1

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return self.fetch_range(key, start, length)[0]

    def fetch_range(self, key: str, start: int, length: int) -> tuple[bytes, int]:
        """One ranged GET: the bytes, and the object's size from its Content-Range."""
        if length <= 0:
            return b"", self.size(key)
        full = self.object_key(key)
        try:
            answer = self.call(
                full, self.client.get_object, Bucket=self.bucket, Key=full, Range=f"bytes={start}-{start + length - 1}"
            )
        except StoreUnreachableError as exc:
            if "InvalidRange" not in str(exc):
                raise
            return b"", self.size(key)  # start at or past the end (an empty object)
        total = str(answer.get("ContentRange", "")).rpartition("/")[2]
        data = bytes(answer["Body"].read())
        return data, int(total) if total.isdigit() else start + len(data)

    def open(self, key: str) -> BinaryIO:
        """A seekable reader that fetches only the ranges read (headers without pixel data)."""
        reader = RangedReader(lambda start, length: self.fetch_range(key, start, length))
        reader.size  # noqa: B018 - the first range now: a missing object fails here, not mid-parse
        return cast(BinaryIO, reader)  # a RawIOBase with read/seek/tell: what BinaryIO users call

    def delete(self, key: str) -> None:
        full = self.object_key(key)
        self.call(full, self.client.delete_object, Bucket=self.bucket, Key=full)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A temporary local copy for libraries that need a path; removed on exit."""
        suffix = Path(key).suffix
        with tempfile.TemporaryDirectory(prefix="sgm-object-") as folder:
            target = Path(folder) / f"object{suffix}"
            with self.open(key) as fp, open(target, "wb") as out:
                shutil.copyfileobj(fp, out, 8 * MIB)
            yield target
