"""Group commit for write transactions on MySQL/MariaDB: concurrent writes of one process share a transaction.

Every write is audited, and appending to the audit chain locks its head row until the transaction commits,
so writes are serial whatever we do, and each commit waits for the redo log's fsync (milliseconds). With one
transaction per request that fsync was paid under the lock once per write, and reads queued behind it for
their own audit events. Here the writes that arrive while a batch is open take turns in its transaction,
each inside a savepoint (a failure rolls back only its own rows and audit events), and one commit makes the
whole batch durable. A request returns only after that commit: a crash before it loses the batch's data and
its audit events together, and none of them was acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from emr_core.audit_sink import Pending, pending_snapshot, restore_pending

MAX_MEMBERS = 64
MAX_SECONDS = 0.05  # a batch this old commits even while writers wait: bounds its first member's latency
WAIT_SECONDS = 30.0


class BatchLost(RuntimeError):
    """The shared transaction failed (commit, deadlock, lost connection): none of its writes happened."""


@dataclass
class _Batch:
    session: Session
    started: float
    members: int = 0
    lost: BaseException | None = None  # the transaction itself failed: nothing in it may commit
    done: Future[None] = field(default_factory=Future)


class WriteBatches:
    """Writers of this process take turns in one open transaction; the last in line commits it for all."""

    def __init__(
        self, sessions: sessionmaker[Session], begin: Callable[[Session], None], max_seconds: float = MAX_SECONDS
    ) -> None:
        self._sessions, self._begin = sessions, begin  # begin: what each batch does first (lock the chain)
        self._max_seconds = max_seconds
        self._turn = threading.Lock()  # held by the one writer working in the open transaction
        self._counter = threading.Lock()
        self._waiting = 0  # writers queued for the turn; the batch stays open while there are any
        self._open: _Batch | None = None
        self._local = threading.local()

    @property
    def waiting(self) -> int:
        """Writers queued for the turn now."""
        with self._counter:
            return self._waiting

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session inside the open batch; returns only after the batch committed (BatchLost if it did not)."""
        if getattr(self._local, "batch", None) is not None:
            raise RuntimeError("nested write transaction: the turn is already held by this thread")
        batch = self._take_turn()
        try:
            with self._member(batch) as session:
                yield session
        finally:
            self._end_turn(batch)
        batch.done.result(timeout=WAIT_SECONDS)

    def _take_turn(self) -> _Batch:
        with self._counter:
            self._waiting += 1
        self._turn.acquire()
        with self._counter:
            self._waiting -= 1
        try:
            if self._open is None:
                self._open = self._start()
        except BaseException:
            self._turn.release()
            raise
        self._local.batch = self._open
        return self._open

    def _start(self) -> _Batch:
        session = self._sessions()
        try:
            self._begin(session)
        except BaseException:
            session.close()
            raise
        return _Batch(session, time.monotonic())

    @contextmanager
    def _member(self, batch: _Batch) -> Iterator[Session]:
        session = batch.session
        snapshot = pending_snapshot(session)  # the chain's checkpoint must not name a rolled-back event
        savepoint = session.begin_nested()
        try:
            yield session
            savepoint.commit()
        except BaseException as exc:
            _undo(batch, savepoint, snapshot, exc)
            raise
        finally:
            # The next writer must not see (or change) this one's objects: they are its own from now on,
            # detached as they would be after a transaction of its own.
            session.expunge_all()
        batch.members += 1

    def _end_turn(self, batch: _Batch) -> None:
        self._local.batch = None
        try:
            with self._counter:
                alone = self._waiting == 0
            full = batch.members >= MAX_MEMBERS or time.monotonic() - batch.started >= self._max_seconds
            if alone or full or batch.lost is not None:
                self._open = None
                _finish(batch)
        finally:
            self._turn.release()


def _undo(batch: _Batch, savepoint: SessionTransaction, snapshot: Pending | None, exc: BaseException) -> None:
    """Roll back one writer's savepoint; if even that fails, the transaction is gone for everyone."""
    restore_pending(batch.session, snapshot)
    try:
        savepoint.rollback()
        alive = not batch.session.connection().invalidated
    except Exception:  # e.g. InnoDB rolled the whole transaction back (deadlock): the savepoint is gone
        alive = False
    if not alive:
        batch.lost = exc


def _finish(batch: _Batch) -> None:
    """Commit the batch and tell every writer in it; a failure fails them all."""
    try:
        if batch.lost is not None:
            raise BatchLost(f"the shared write transaction failed: {batch.lost}")
        batch.session.commit()
    except Exception as exc:
        batch.done.set_exception(exc if isinstance(exc, BatchLost) else BatchLost(f"commit failed: {exc}"))
    else:
        batch.done.set_result(None)
    finally:
        batch.session.close()
