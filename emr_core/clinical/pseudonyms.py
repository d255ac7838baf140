"""Stable pseudonyms for de-identified views: HMAC of an id under a per-installation secret."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def installation_secret(root: Path) -> bytes:
    """The secret kept in the data folder, created on first use (readable by the owner only)."""
    path = root / "pseudonym.key"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def pseudonym(secret: bytes, kind: str, value: object) -> str:
    """A 16-hex-digit pseudonym; the same input gives the same output, nothing leads back."""
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]
