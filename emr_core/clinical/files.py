"""Documents attached to patients: content-addressed storage with size and type checks."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from emr_core.models_clinical import PatientFile

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CATEGORIES = frozenset({"pathology_report", "consent_form", "referral", "prior_report", "other"})
_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class FileRejected(ValueError):
    """The upload breaks a rule; `field` names the form field at fault and `status` the HTTP code."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a multi-byte character cut at the sniff boundary
    return b"\x00" not in head


# Declared type -> check on the first bytes, so a renamed executable is not served as a PDF.
SNIFFERS = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "text/plain": _is_text,
}


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int


def blob_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def store_blob(root: Path, stream: BinaryIO, content_type: str, max_bytes: int) -> StoredBlob:
    """Copy the stream into storage under its sha256, enforcing the size limit and type while reading."""
    sniff = SNIFFERS.get(content_type)
    if sniff is None:
        raise FileRejected(
            "file", f"content type {content_type!r} not accepted; use one of {', '.join(sorted(SNIFFERS))}", 415
        )
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=root, delete=False) as tmp:
        try:
            while chunk := stream.read(_CHUNK):
                if size == 0 and not sniff(chunk[:4096]):
                    raise FileRejected("file", f"content does not look like {content_type}", 415)
                size += len(chunk)
                if size > max_bytes:
                    raise FileRejected("file", f"file larger than the limit of {max_bytes} bytes", 413)
                digest.update(chunk)
                tmp.write(chunk)
            if size == 0:
                raise FileRejected("file", "file is empty")
        except BaseException:
            os.unlink(tmp.name)
            raise
    final = blob_path(root, digest.hexdigest())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp.name, final)  # same content, same name: a re-upload just overwrites itself
    return StoredBlob(digest.hexdigest(), size)


def safe_filename(name: str) -> str:
    """The base name with anything outside a conservative character set replaced."""
    base = _SAFE_NAME.sub("_", Path(name or "upload").name).strip(" .") or "upload"
    return base[:255]


def check_category(category: str) -> None:
    """FileRejected naming the field for an unknown category (checked before any byte is stored)."""
    if category not in CATEGORIES:
        raise FileRejected("category", f"unknown category {category!r}; use one of {', '.join(sorted(CATEGORIES))}")


def attach_file(
    session: Session,
    patient_id: int,
    blob: StoredBlob,
    filename: str,
    content_type: str,
    category: str,
    uploaded_by: str,
) -> PatientFile:
    """Record an attached document whose bytes are already stored."""
    check_category(category)
    row = PatientFile(
        patient_id=patient_id,
        sha256=blob.sha256,
        filename=safe_filename(filename),
        content_type=content_type,
        category=category,
        size_bytes=blob.size_bytes,
        uploaded_by=uploaded_by,
    )
    session.add(row)
    session.flush()
    return row
