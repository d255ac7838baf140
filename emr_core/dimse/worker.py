"""Ingest off the request path: a worker process indexes, links and audits spooled files.

A separate process, not a thread: header parsing, copying and the database work would
otherwise take the GIL from the network threads (bench/store.py measures the difference).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import record_event
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.dimse.auditing import (
    AssociationEnded,
    Received,
    WorkItem,
    association_record,
    indexed_studies,
    instance_record,
    rejection_record,
)
from emr_core.dimse.spool import Spool
from emr_core.linking.linker import link_studies
from emr_core.settings import Settings

log = logging.getLogger(__name__)
BATCH_ITEMS = 100
PARENT_CHECK_SECONDS = 1.0


def process_items(sessions: sessionmaker[Session], settings: Settings, spool: Spool, items: Sequence[WorkItem]) -> int:
    """Ingest the received files (moving them out of the spool), then audit; returns new studies."""
    received = [i for i in items if isinstance(i, Received)]
    spooled = [i.path for i in received if i.path is not None]
    new_studies = 0
    if spooled:
        one_process = settings.model_copy(update={"ingest_workers": 1})
        # audit=False: every received instance is audited below, with its association.
        report = ingest_paths(sessions, one_process, spooled, move=True, audit=False)
        new_studies = len(report.new_study_uids)
    with session_scope(sessions) as session:
        indexed = indexed_studies(session, [i.sop_instance_uid for i in received])
        for item in items:
            record_event(session, _record(item, indexed))
    for item in items:
        if isinstance(item, AssociationEnded):
            spool.close_association(item.association.id)
    return new_studies


def _record(item: WorkItem, indexed: dict[str, Any]) -> Any:
    if isinstance(item, Received):
        return instance_record(item, indexed.get(item.sop_instance_uid))
    if isinstance(item, AssociationEnded):
        return association_record(item)
    return rejection_record(item)


class RetryList:
    """Spooled files whose ingest failed (disk full, database down), to try again while idle.

    Without this only a restart would ingest them; the sender was already answered success.
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self._items: dict[Path, Received] = {}
        self._ended: set[str] = set()  # associations over: their folder may go once empty
        self._next = time.monotonic() + every

    def note(self, batch: Sequence[WorkItem]) -> None:
        """Remember what a processed batch left in the spool."""
        for item in batch:
            if isinstance(item, Received) and item.path is not None and item.path.exists():
                self._items[item.path] = item
            elif isinstance(item, AssociationEnded):
                self._ended.add(item.association.id)
        if self._items:
            log.warning("%d spooled file(s) not ingested; retrying every %.0f s", len(self._items), self.every)

    def due(self) -> bool:
        return bool(self._items) and time.monotonic() >= self._next

    def retry(self, sessions: sessionmaker[Session], settings: Settings, spool: Spool) -> int:
        """Ingest the remembered files again; returns new studies."""
        self._next = time.monotonic() + self.every
        items = [replace(i, detail="ingested on retry after a failed ingest") for i in self._items.values()]
        self._items.clear()
        try:
            new_studies = process_items(sessions, settings, spool, items)
        finally:
            self.note(items)
        for assoc_id in list(self._ended):
            if not any(p.parent.name == assoc_id for p in self._items):
                spool.close_association(assoc_id)
                self._ended.discard(assoc_id)
        return new_studies


class IngestWorker:
    """A worker process fed through a queue; stop() drains what was queued before exiting."""

    def __init__(
        self, settings: Settings, spool: Spool, retry_seconds: float = 30.0, unfinished: Sequence[WorkItem] = ()
    ) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._queue: Any = context.Queue()
        self._process = context.Process(
            target=_worker_main,
            args=(self._queue, settings, spool, os.getpid(), retry_seconds, list(unfinished)),
            name="sgm-ingest",
        )

    def start(self) -> None:
        self._process.start()

    @property
    def queue(self) -> Any:
        """The work queue, for listener processes to submit to."""
        return self._queue

    def submit(self, item: WorkItem) -> None:
        """Queue work for the worker (never blocks the network thread)."""
        self._queue.put(item)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the worker to finish what is queued, and wait for it."""
        self._queue.put(None)
        self._process.join(timeout)
        if self._process.is_alive():
            log.error("ingest worker did not finish in %.0f s; files stay spooled for the next start", timeout)
            self._process.terminate()


def _worker_main(
    items: Any, settings: Settings, spool: Spool, parent: int, retry_seconds: float, unfinished: list[WorkItem]
) -> None:
    """Worker loop: batch what is queued, process it, link when the queue runs dry."""
    die_with_parent()
    # Ctrl-C and `kill -TERM -group` reach us too: the parent's stop marker ends the loop,
    # after the queued work, so those signals must not cut a batch in half.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("emr_core.dicom.ingest").setLevel(logging.WARNING)  # one line per batch is noise
    sessions = make_session_factory(make_engine(settings.url), settings)
    pending_link = 0
    retries = RetryList(retry_seconds)
    retries.note(unfinished)  # start-up recovery that failed (disk full, database down)
    while True:
        batch, done = _next_batch(items, parent)
        if batch:
            pending_link += _safely(process_items, sessions, settings, spool, batch) or 0
            retries.note(batch)
        elif retries.due():
            pending_link += _safely(retries.retry, sessions, settings, spool) or 0
        if pending_link and (done or items.empty()):
            _safely(link_studies, sessions, only_pending=True)
            pending_link = 0
        if done:
            return


def _next_batch(items: Any, parent: int) -> tuple[list[WorkItem], bool]:
    """Up to BATCH_ITEMS queued items; done once the stop marker arrives or the parent is gone."""
    batch: list[WorkItem] = []
    while len(batch) < BATCH_ITEMS:
        try:
            item = items.get(timeout=PARENT_CHECK_SECONDS) if not batch else items.get_nowait()
        except queue.Empty:
            return batch, os.getppid() != parent
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


def _safely(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # A database outage must not kill the worker: the files stay spooled and are
    # ingested again at the next start.
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("ingest worker: %s failed; spooled files are kept", getattr(fn, "__name__", fn))
        return None


def die_with_parent() -> None:
    """Linux: get SIGKILL when the receiver dies, so no orphan races the restarted one."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
