"""Copy a version out of the store, verifying every file's sha256 on the way."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgm_datasets.errors import PullError, UnknownVersionError
from sgm_datasets.store import HEADER, DatasetStore

CHUNK = 1 << 20


@dataclass(frozen=True)
class PullReport:
    name: str
    version: str
    root: Path
    files: int
    bytes: int


def resolve(store: DatasetStore, name: str, ref: str) -> str:
    """A full version id from a full id, a unique prefix (at least 6 characters) or 'latest'."""
    versions = store.versions(name)
    if ref == "latest" and versions:
        return max(versions, key=lambda v: json.loads(store.read(name, v, HEADER)).get("created_at", ""))
    matches = [v for v in versions if len(ref) >= 6 and v.startswith(ref.lower())]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UnknownVersionError(f"{name}@{ref} is ambiguous: {len(matches)} versions start with it")
    raise UnknownVersionError(f"unknown dataset version {name}@{ref}")


def parse_ref(text: str) -> tuple[str, str]:
    """NAME@VERSION (VERSION may be a prefix or 'latest'); NAME alone means the latest."""
    name, _, version = text.partition("@")
    return name, version or "latest"


def read_header(store: DatasetStore, name: str, version: str) -> dict[str, Any]:
    return json.loads(store.read(name, version, HEADER))


def _stream(store: DatasetStore, name: str, version: str, rel: str, partial: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with store.open(name, version, rel) as src, partial.open("wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _mapped(source: Path, partial: Path) -> tuple[str, int]:
    """A local file mapped once: hashed and written from the same pages (no copy through a buffer)."""
    try:
        handle = source.open("rb")
    except FileNotFoundError:
        raise UnknownVersionError(str(source)) from None
    with handle, partial.open("wb") as out:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return hashlib.sha256().hexdigest(), 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as pages:
            digest = hashlib.sha256(pages).hexdigest()
            out.write(pages)
    return digest, size


def _copy(store: DatasetStore, name: str, version: str, entry: dict[str, Any], dest: Path) -> int:
    rel = entry["path"]
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    local = getattr(store, "local_path", None)
    try:
        if local is not None:
            actual, size = _mapped(local(name, version, rel), partial)
        else:
            actual, size = _stream(store, name, version, rel, partial)
    except UnknownVersionError:
        partial.unlink(missing_ok=True)
        raise PullError(f"{rel}: missing from {name}@{version[:12]} in the store") from None
    if actual != entry["sha256"]:
        partial.unlink(missing_ok=True)
        raise PullError(f"{rel}: corrupted in the store (sha256 {actual[:12]}…, expected {entry['sha256'][:12]}…)")
    os.replace(partial, target)
    return size


def pull_version(
    store: DatasetStore,
    name: str,
    version: str,
    dest: Path,
    progress: Callable[[int], None] | None = None,
    workers: int = max(2, os.cpu_count() or 1),
) -> PullReport:
    """Every file of the header, verified; the header last, so a folder with header.json is complete."""
    header = read_header(store, name, version)
    files = header["files"]
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    # Threads overlap reading, hashing (hashlib releases the GIL) and writing.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for size in pool.map(lambda e: _copy(store, name, version, e, dest), files):
            total += size
            if progress:
                progress(size)
    (dest / HEADER).write_text(json.dumps(header, indent=1, sort_keys=True), encoding="utf-8")
    return PullReport(name, version, dest, len(files), total)
