"""One interface over where DICOM objects live: a local folder or an S3-compatible bucket.

A *key* names an object inside one store (`<study>/<series>/<sop>.dcm`); a *location* is what
Instance.stored_path keeps: a path relative to the data folder (or absolute) for local objects,
`s3://bucket/key` for S3 ones. A location alone finds its object again, whatever the store
configured today, so rows written before a change of SGM_STORAGE_URL stay readable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_BYTES = 1024 * 1024


class ObjectStoreError(OSError):
    """A store operation failed; the message is one line naming the store and the cause."""


class StoreUnreachableError(ObjectStoreError):
    """The store did not answer, or refused us (credentials, missing bucket)."""


class ObjectMissingError(ObjectStoreError, FileNotFoundError):
    """No object under that key."""


@dataclass(frozen=True)
class StoredObject:
    """Where an object now lives, its content hash and size; created=False if the key was taken."""

    key: str
    location: str
    sha256: str
    size: int
    created: bool


class ObjectStore(Protocol):
    """put is atomic and durable when it returns; readers never see a partial object."""

    url: str

    def location(self, key: str) -> str: ...
    def put_file(self, key: str, source: str | Path, overwrite: bool = False) -> StoredObject: ...
    def open(self, key: str) -> BinaryIO: ...
    def read_range(self, key: str, start: int, length: int) -> bytes: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def sha256(self, key: str) -> str: ...
    def delete(self, key: str) -> None: ...
    def local_path(self, key: str) -> AbstractContextManager[Path]: ...


def hash_stream(fp: BinaryIO) -> tuple[str, int]:
    """sha256 and size of what a stream holds, read once in chunks."""
    digest, size = hashlib.sha256(), 0
    while chunk := fp.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def check_key(key: str) -> str:
    """A relative key that cannot leave its store ('..', absolute, empty parts)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ObjectStoreError(f"not an object key: {key!r}")
    return key


def iter_file(path: str | Path, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
    with open(path, "rb") as fp:
        while data := fp.read(chunk):
            yield data
