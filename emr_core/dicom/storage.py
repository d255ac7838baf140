"""Managed storage: UID-derived names; the durable file writing lives in emr_core.objectstore.files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from emr_core.objectstore.files import (
    CHUNK_BYTES,
    TEMP_PREFIX,
    StoredFile,
    fsync_path,
    hash_file,
    store_by_content,
    store_bytes,
    store_chunks,
    store_file,
)

__all__ = [
    "CHUNK_BYTES",
    "TEMP_PREFIX",
    "StoredFile",
    "fsync_path",
    "hash_file",
    "instance_key",
    "instance_path",
    "safe_component",
    "store_by_content",
    "store_bytes",
    "store_chunks",
    "store_file",
]
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")


def safe_component(uid: str) -> str:
    """A file name for a UID that cannot leave its folder (no '/', '..', NUL, or hidden name)."""
    cleaned = _UNSAFE.sub("_", uid.strip())
    if cleaned == uid and cleaned and not cleaned.startswith("."):
        return cleaned
    # Changed names get a hash suffix so that two different UIDs never share a file.
    digest = hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"_{cleaned.lstrip('.')}_{digest}"


def instance_key(study_uid: str, series_uid: str, sop_uid: str) -> str:
    """<study>/<series>/<sop>.dcm with every UID sanitised: the object key of an instance."""
    return "/".join((safe_component(study_uid), safe_component(series_uid), safe_component(sop_uid) + ".dcm"))


def instance_path(storage_dir: Path, study_uid: str, series_uid: str, sop_uid: str) -> Path:
    """storage/<study>/<series>/<sop>.dcm with every UID sanitised."""
    return storage_dir / instance_key(study_uid, series_uid, sop_uid)
