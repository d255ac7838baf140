"""The site secret behind pseudonyms and date shifts: created once, 0600, never exported."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

KEY_BYTES = 32


class DeidKeyError(RuntimeError):
    """The secret file is unreadable, malformed or readable by others."""


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes creating the key at once must not end up with different secrets.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load_or_create_key(path: Path) -> bytes:
    """The secret at `path`, created with mode 0600 on first use."""
    if not path.exists():
        _create(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DeidKeyError(f"{path} is accessible by other users; run `chmod 600 {path}`")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise DeidKeyError(f"{path} is not a hex secret; restore it from backup (pseudonyms depend on it)") from None
    if len(key) < KEY_BYTES:
        raise DeidKeyError(f"{path} holds {len(key)} bytes; at least {KEY_BYTES} are needed")
    return key
