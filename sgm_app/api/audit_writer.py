"""Group commit for audit events of reads: concurrent requests share one transaction, each waits for its own."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_events
from emr_core.db import session_scope

log = logging.getLogger(__name__)
MAX_BATCH = 256
WAIT_SECONDS = 30.0
TICK_SECONDS = 1.0  # how often periodic records (the 401 counts) are collected
_Item = tuple[AuditRecord, "Future[None]"]


class AuditWriter:
    """One thread appends queued events to the chain; a request returns only after its event is committed."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        writer: Callable[[], AbstractContextManager[None]],
        periodic: Callable[..., list[AuditRecord]] | None = None,
    ) -> None:
        self._sessions, self._writer = sessions, writer
        self._periodic = periodic  # records due now; called with everything=True at stop
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued and what is periodically due, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=WAIT_SECONDS)
            self._thread = None
        self._write_periodic(everything=True)

    def append(self, record: AuditRecord) -> None:
        """Append and wait until committed (the caller sees a failure as an exception)."""
        if self._thread is None:  # not started (no lifespan): write directly
            self._write([(record, Future())])
            return
        done: Future[None] = Future()
        self._queue.put((record, done))
        done.result(timeout=WAIT_SECONDS)

    async def append_from_loop(self, record: AuditRecord) -> None:
        """`append` for an async endpoint: waits for the commit on the event loop, not in a handler thread."""
        # Handler threads are few on purpose; one parked on a commit is a thread no request can use,
        # and reads waiting here together also make the writer's batches larger.
        if self._thread is None:
            await to_thread.run_sync(self.append, record)
            return
        done: Future[None] = Future()
        self._queue.put((record, done))
        # Shielded: a client that goes away cancels its request, which must not cancel the record.
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(done)), WAIT_SECONDS)

    def _write_periodic(self, everything: bool = False) -> None:
        records = self._periodic(everything=everything) if self._periodic is not None else []
        if records:
            try:
                self._write([(record, Future()) for record in records])
            except Exception:  # logged, never fatal to the writer thread
                log.exception("periodic audit records not written")

    def _next(self) -> _Item | None:
        """The next queued item; in idle moments, write what is periodically due."""
        while True:
            try:
                return self._queue.get(timeout=TICK_SECONDS)
            except queue.Empty:
                self._write_periodic()

    def _run(self) -> None:
        while (first := self._next()) is not None:
            self._write_periodic()
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._settle(batch)
            if stop:
                return

    def _settle(self, batch: list[_Item]) -> None:
        # Every record is written; only the waits still wanted are answered (after this call a wait can
        # no longer be cancelled, and answering a cancelled one would raise and end this thread).
        waiting = [done for _, done in batch if done.set_running_or_notify_cancel()]
        try:
            self._write(batch)
        except Exception as exc:
            for done in waiting:
                done.set_exception(exc)
            return
        for done in waiting:
            done.set_result(None)

    def _write(self, batch: list[_Item]) -> None:
        with self._writer(), session_scope(self._sessions) as session:
            record_events(session, [record for record, _ in batch])
