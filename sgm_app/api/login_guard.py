"""Back-off for password guessing: per account and per source address, exponential once the free tries are used."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.enums import AuditEventId, AuditOutcome
from emr_core.models import AuditEvent

# The REST API's and the web application's sign-ins share one back-off per account.
LOGIN_EVENT_TYPES = ("login", "web_login")
LOOKBACK = 64  # audit rows read per login: enough to reach the longest back-off


def recorded_failures(session: Session, username: str) -> tuple[int, float]:
    """Failed logins of this account since its last success, from the audit log that every worker writes,
    and when the latest was (Unix seconds); (0, 0.0) when none."""
    rows = session.execute(
        select(AuditEvent.outcome, AuditEvent.occurred_at)
        .where(
            AuditEvent.user_id == username,
            AuditEvent.event_id == AuditEventId.USER_AUTHENTICATION.value,
            AuditEvent.event_type.in_(LOGIN_EVENT_TYPES),
        )
        .order_by(AuditEvent.id.desc())
        .limit(LOOKBACK)
    ).all()
    failures = 0
    for outcome, _ in rows:
        if outcome == AuditOutcome.SUCCESS:
            break
        failures += 1
    return failures, (rows[0][1].replace(tzinfo=UTC).timestamp() if failures else 0.0)


@dataclass
class _Record:
    failures: int
    last: float


class LoginGuard:
    """Counts failed logins per key; past `free` failures a key must wait base * 2**(extra failures), capped."""

    def __init__(
        self,
        *,
        free_per_account: int = 5,
        free_per_source: int = 20,
        base_seconds: float = 1.0,
        max_seconds: float = 900.0,
        size: int = 100_000,
        clock: Callable[[], float] = time.time,  # wall time: compared with audit timestamps
    ) -> None:
        self.free = {"account": free_per_account, "source": free_per_source}
        self.base, self.cap, self.size, self.clock = base_seconds, max_seconds, size, clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    def _wait(self, kind: str, record: _Record, now: float) -> float:
        extra = record.failures - self.free[kind]
        if extra < 0:
            return 0.0
        delay = min(self.cap, self.base * 2.0 ** min(extra, 32))
        return max(0.0, record.last + delay - now)

    def recorded_wait(self, failures: int, last: float) -> int:
        """Seconds this account must still wait given its failures in the audit log (other workers' too)."""
        wait = self._wait("account", _Record(failures, last), self.clock())
        return max(1, math.ceil(wait)) if wait else 0

    def admit(self, account: str, source: str) -> int:
        """0 when a try is allowed (it counts as failed until `succeeded`), else the seconds to wait."""
        keys = self._keys(account, source)
        now = self.clock()
        with self._lock:
            waits = [self._wait(k, self._records[(k, v)], now) for k, v in keys if (k, v) in self._records]
            if any(waits):
                return max(1, math.ceil(max(waits)))
            if len(self._records) >= self.size:
                self._forget_idle(now)
            for key in keys:  # counted before the password is checked: parallel guesses cannot slip through
                record = self._records.setdefault(key, _Record(0, now))
                record.failures, record.last = record.failures + 1, now
        return 0

    def failed(self, account: str, source: str) -> None:
        """The admitted try was wrong: the wait runs from now, not from when the check began."""
        now = self.clock()
        with self._lock:
            for key in self._keys(account, source):
                if key in self._records:
                    self._records[key].last = now

    def succeeded(self, account: str, source: str) -> None:
        with self._lock:
            for key in self._keys(account, source):
                self._records.pop(key, None)

    @staticmethod
    def _keys(account: str, source: str) -> list[tuple[str, str]]:
        return [("account", account.casefold()), ("source", source)]

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, record in self._records.items() if now - record.last > self.cap]
        for key in idle or list(self._records)[: self.size // 2]:
            del self._records[key]
