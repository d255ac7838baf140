"""The audit chain's secret key and its signed checkpoints, both kept outside the database."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_BYTES = 32
CHECKPOINT_VERSION = "v1"


class AuditKeyError(RuntimeError):
    """The audit key is missing or unreadable where it must exist."""


def seal(key: bytes, text: str) -> str:
    """HMAC-SHA256 of text under the audit key, hex."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def fingerprint(key: bytes) -> str:
    """A public name of the key (and so of the chain it seals); reveals nothing of the key."""
    return "sgm-" + hashlib.sha256(b"sgm audit chain\0" + key).hexdigest()[:16]


def load_key(path: Path, *, create: bool) -> bytes:
    """Read the key; with create, make one (mode 0600, folder 0700) when it does not exist yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise AuditKeyError(f"audit key {path} not found (SGM_AUDIT_KEY_FILE)") from None
        return _create_key(path)
    except OSError as exc:
        raise AuditKeyError(f"audit key {path} unreadable: {exc.strerror}") from None
    key = bytes.fromhex(data.decode("ascii", "replace").strip()) if _is_hex(data) else b""
    if len(key) < 16:
        raise AuditKeyError(f"audit key {path} is not a hex key of at least 16 bytes")
    return key


def _is_hex(data: bytes) -> bool:
    text = data.strip()
    return bool(text) and all(c in b"0123456789abcdefABCDEF" for c in text)


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path, create=False)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


@dataclass(frozen=True)
class Checkpoint:
    """The chain as it stood after a commit: its newest event id and that event's seal."""

    event_id: int
    row_hash: str
    written_at: str
    line: int


@dataclass(frozen=True)
class CheckpointFile:
    """Signed lines `v1 <event id> <row hash> <time> <hmac>`, appended after each audited commit."""

    path: Path
    key: bytes

    def append(self, event_id: int, row_hash: str) -> None:
        body = f"{CHECKPOINT_VERSION} {event_id} {row_hash} {datetime.now(UTC).isoformat(timespec='seconds')}"
        line = f"{body} {seal(self.key, body)}\n".encode("ascii")
        # One write() of a short line with O_APPEND: concurrent writers never interleave. No fsync, like
        # the database's own commits (SQLite WAL, synchronous=NORMAL): it survives a crash of the process;
        # after a power loss a missing line is only a gap, never a false alarm.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except FileNotFoundError:  # the folder is made on first use (or again if it was removed)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The valid checkpoints and a problem for each line that is not correctly signed."""
        if not self.path.exists():
            return [], []
        good: list[Checkpoint] = []
        bad: list[str] = []
        with open(self.path, encoding="ascii", errors="replace") as handle:
            for number, raw in enumerate(handle, start=1):
                parsed = self._parse(raw.rstrip("\n"), number)
                if isinstance(parsed, Checkpoint):
                    good.append(parsed)
                else:
                    bad.append(parsed)
        return good, bad

    def _parse(self, text: str, number: int) -> Checkpoint | str:
        body, _, signature = text.rpartition(" ")
        fields = body.split(" ")
        if len(fields) != 4 or fields[0] != CHECKPOINT_VERSION or not fields[1].isdigit():
            return f"checkpoint line {number}: malformed"
        if not hmac.compare_digest(seal(self.key, body), signature):
            return f"checkpoint line {number}: bad signature (forged or edited)"
        return Checkpoint(int(fields[1]), fields[2], fields[3], number)
