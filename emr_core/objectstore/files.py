"""Durable local files: atomic writes (temp, fsync, link, fsync folder), sha256 and size in one pass."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024
TEMP_PREFIX = ".sgm-tmp-"


@dataclass(frozen=True)
class StoredFile:
    """Where a file now lives, its content hash and size; created=False if it was already there."""

    path: Path
    sha256: str
    size: int
    created: bool


def store_file(source: str | os.PathLike[str], target: Path, overwrite: bool = False) -> StoredFile:
    """Copy a file atomically to target, hashing it in the same read pass."""
    with open(source, "rb") as fp:
        return store_chunks(_read_chunks(fp), target, overwrite)


def store_bytes(data: bytes | Iterable[bytes], target: Path, overwrite: bool = False) -> StoredFile:
    """Write received bytes (or an iterable of chunks) atomically to target."""
    chunks: Iterable[bytes] = (bytes(data),) if isinstance(data, (bytes, bytearray, memoryview)) else data
    return store_chunks(chunks, target, overwrite)


def store_chunks(chunks: Iterable[bytes], target: Path, overwrite: bool = False) -> StoredFile:
    """Write to a temp file beside target, fsync, then publish it and fsync the folder.

    Without overwrite an existing target is never replaced (two writers of the same UID
    cannot clobber each other): the result then has created=False and the hash of `chunks`.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, sha256, size = _write_temp(chunks, target.parent)
    try:
        created = _publish(tmp, target, overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return StoredFile(target, sha256, size, created)


def store_by_content(source: str | os.PathLike[str], folder: Path, suffix: str = "") -> StoredFile:
    """Copy a file into folder under the name <sha256><suffix>; the same bytes twice is a no-op."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as fp:
        tmp, sha256, size = _write_temp(_read_chunks(fp), folder)
    target = folder / f"{sha256}{suffix}"
    try:
        created = _publish(tmp, target, overwrite=False)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return StoredFile(target, sha256, size, created)


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """sha256 and size of a file, read once."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fp:
        for chunk in _read_chunks(fp):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_chunks(fp: BinaryIO) -> Iterable[bytes]:
    read = fp.read
    while chunk := read(CHUNK_BYTES):
        yield chunk


def _write_temp(chunks: Iterable[bytes], folder: Path) -> tuple[str, str, int]:
    """Write chunks to a new temp file in folder, hashing as we go; fsync before returning."""
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, digest.hexdigest(), size


def _publish(tmp: str, target: Path, overwrite: bool) -> bool:
    """Give the temp file its final name; False when target existed and overwrite is off."""
    if overwrite:
        os.replace(tmp, target)
    else:
        try:
            # link() fails if target exists, unlike replace(): the no-clobber atomic publish.
            os.link(tmp, target)
        except FileExistsError:
            return False
    fsync_path(target.parent)
    return True


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk through a fresh descriptor."""
    # On a folder this makes a new or renamed entry durable, not only the file content.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
