"""Image requests (`/data/local-files/?d=`, one per image shown): the gateway's access decision, answered from
answers cached per reading state so that an image costs one small query, not the reader's grants again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from annotation_ui.access import Decision, Grants, Resolver, decide
from annotation_ui.assignments_access import access_state, document_tasks, grants_for, task_project
from emr_core.settings import Settings

MAX_AGE_S = 60.0  # a backstop: anything the fingerprint misses is seen within this delay
MAX_ENTRIES = 20_000  # per table; hostile requests for ever new file names cannot grow the cache without end
K = TypeVar("K")
V = TypeVar("V")


@dataclass
class _Snapshot:
    """Answers valid for one reading state (access_state) only."""

    state: tuple[object, ...]
    taken: float
    grants: dict[str, Grants] = field(default_factory=dict)
    documents: dict[str, frozenset[int]] = field(default_factory=dict)
    projects: dict[int, int | None] = field(default_factory=dict)


def _cached(table: dict[K, V], key: K, compute: Callable[[], V]) -> V:
    if key not in table:
        if len(table) >= MAX_ENTRIES:
            table.clear()
        table[key] = compute()
    return table[key]


@dataclass
class ImageAccess:
    """decide() for image requests, with the reader's grants and the files' tasks cached until the state moves."""

    settings: Settings
    _snapshot: _Snapshot | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _current(self, session: Session) -> _Snapshot:
        """The snapshot of the current reading state (a new, empty one when a phase, assignment or queue moved)."""
        state, now = access_state(session), time.monotonic()
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.state != state or now - snap.taken > MAX_AGE_S:
                snap = self._snapshot = _Snapshot(state, now)
        return snap

    def decide(self, session: Session, email: str, method: str, uri: str) -> Decision:
        """The policy's own decision (annotation_ui.access.decide) on a local-files request."""
        snap = self._current(session)
        grants = _cached(snap.grants, email, lambda: grants_for(session, email))
        resolver = Resolver(
            task_project=lambda t: _cached(snap.projects, t, lambda: task_project(session, t)),
            annotation_task=lambda _a: None,  # an image request names no annotation or draft
            draft_task=lambda _d: None,
            file_tasks=lambda d: _cached(snap.documents, d, lambda: document_tasks(session, self.settings, d)),
        )
        return decide(grants, method, uri, resolver)
