"""What every request handler reaches: settings, the database, storage, and two small process-local helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.files import DEFAULT_MAX_BYTES
from emr_core.clinical.users import Principal
from emr_core.settings import Settings
from sgm_app.api.audit_writer import AuditWriter
from sgm_app.api.denials import DenialCoalescer
from sgm_app.api.login_guard import LoginGuard

TOKEN_CACHE_SECONDS = 10.0  # a revoked token or changed role takes effect within this time


class TokenCache:
    """Recently verified tokens (by hash), so a burst of requests does not query the users table each time."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, size: int = 10_000) -> None:
        self._ttl, self._size = ttl, size
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()  # crude but bounded; entries are cheap to re-verify
            self._entries[key] = (time.monotonic() + self._ttl, principal)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


@dataclass(frozen=True)
class ApiState:
    """Built once by create_app and shared by all requests."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    pseudonym_secret: bytes
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    tokens: TokenCache = field(default_factory=TokenCache)
    login_guard: LoginGuard = field(default_factory=LoginGuard)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    audit_writer: AuditWriter = field(init=False)
    denials: DenialCoalescer = field(init=False)

    def __post_init__(self) -> None:
        denials = DenialCoalescer(self.settings.audit_401_window_seconds)
        object.__setattr__(self, "denials", denials)
        object.__setattr__(self, "audit_writer", AuditWriter(self.sessions, self.writer, denials.due))

    @property
    def files_root(self) -> Path:
        return self.settings.root / "files"

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Serialise this process's write transactions on SQLite (no-op on MySQL, which queues row locks)."""
        # SQLite's busy handler sleeps with growing back-off while another writer holds the lock;
        # queueing the threads here instead hands the lock over at once and keeps latency tails short.
        guard = self._write_lock if self.engine.dialect.name == "sqlite" else nullcontext()
        with guard:
            yield
