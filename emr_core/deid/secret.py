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
    """Write the secret under a temporary name, then publish it with link(): readers never see half a key,
    and of two processes creating it at once, one wins and both use its secret."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


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
