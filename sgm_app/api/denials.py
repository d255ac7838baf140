"""Coalesce anonymous 401s: one audit row per source address (and reason) per window, then one with the count.

Without this every request lacking a valid token wrote (and waited for) its own audit row, so anonymous
traffic alone could flood the log and the database. Now a flood writes at most two rows per address and
reason per window (addresses beyond MAX_ADDRESSES share one bucket), and the count is kept.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emr_core.audit import AuditRecord
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome

MAX_ADDRESSES = 1024
OVERFLOW = "*other addresses*"
MAX_PATHS = 5


@dataclass
class _Window:
    started: float
    started_at: str
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)


def _record(address: str, event_type: str, detail: dict[str, object]) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.USER_AUTHENTICATION,
        action=AuditAction.EXECUTE,
        event_type=event_type,
        outcome=AuditOutcome.MINOR_FAILURE,
        network_address=address[:64],
        detail=detail,
    )


class DenialCoalescer:
    """Counts 401s per address; `note` says when a row is due now, `due` yields the closed windows' counts."""

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def note(self, address: str, reason: str, path: str) -> AuditRecord | None:
        """Count one 401; the first of an address's window is recorded at once (returned)."""
        now = time.monotonic()
        with self._lock:
            key = (address, reason)
            if key not in self._windows and len(self._windows) >= MAX_ADDRESSES:
                key = (OVERFLOW, reason)
            current = self._windows.get(key)
            if current is None:
                current = self._windows[key] = _Window(now, datetime.now(UTC).isoformat(timespec="seconds"))
            current.count += 1
            current.reasons[reason] += 1
            current.paths[path[:200]] += 1
            first = current.count == 1
        if not first:
            return None
        detail = {"path": path[:200], "reason": reason, "coalesced_for_seconds": self.window}
        return _record(key[0], "token", detail)

    def due(self, *, everything: bool = False) -> list[AuditRecord]:
        """Close the windows that ended (all of them with everything) and return a count row for each.

        A window with a single 401 needs no count row: its first row already tells the whole story.
        """
        now = time.monotonic()
        with self._lock:
            ended = [k for k, w in self._windows.items() if everything or now - w.started >= self.window]
            closed = [(k, self._windows.pop(k)) for k in ended]
        return [self._summary(key[0], w) for key, w in closed if w.count > 1]

    def _summary(self, address: str, window: _Window) -> AuditRecord:
        detail = {
            "count": window.count,
            "window_started_at": window.started_at,
            "window_seconds": self.window,
            "reasons": dict(window.reasons),
            "paths": dict(window.paths.most_common(MAX_PATHS)),
        }
        return _record(address, "token_denied_summary", detail)
