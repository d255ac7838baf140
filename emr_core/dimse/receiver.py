"""The storage receiver: recover the spool, start the ingest worker, serve associations."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from emr_core.db import make_engine, make_session_factory
from emr_core.dicom.header import HeaderError, read_header
from emr_core.dimse.auditing import AssociationEnded, Received, WorkItem
from emr_core.dimse.config import ReceiverConfig
from emr_core.dimse.handlers import ReceiverState
from emr_core.dimse.listener import (
    GRACE_SECONDS,
    finish_associations,
    make_server,
    start_listeners,
    stream_to,
)
from emr_core.dimse.spool import Spool
from emr_core.dimse.worker import IngestWorker, process_items
from emr_core.linking.linker import link_studies
from emr_core.settings import Settings

log = logging.getLogger(__name__)


class Receiver:
    """C-ECHO and C-STORE SCP whose every acknowledged instance is already durable."""

    def __init__(self, settings: Settings, config: ReceiverConfig) -> None:
        self.settings = settings
        self.config = config
        self.spool = Spool(config.spool_dir, config.state_dir)
        self._worker: IngestWorker | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._listeners: list[Any] = []
        self._unfinished: list[WorkItem] = []

    def recover(self) -> int:
        """Ingest and audit what a previous run spooled but did not ingest; returns files."""
        items = recovery_items(self.spool)
        if not items:
            return 0
        self._unfinished = items  # what is left after a failure goes to the worker's retry list
        sessions = make_session_factory(make_engine(self.settings.url), self.settings)
        new_studies = process_items(sessions, self.settings, self.spool, items)
        self._unfinished = [i for i in items if not isinstance(i, Received) or (i.path and i.path.exists())]
        if new_studies:
            link_studies(sessions, only_pending=True)
        recovered = sum(isinstance(i, Received) for i in items)
        log.info("recovered %d spooled file(s) from an interrupted run", recovered)
        return recovered

    def start(self) -> None:
        """Check the object store, recover, start the worker, then listen (a thread, plus extra processes)."""
        if self.config.remote_store is not None:
            # Unreachable: refuse to start (StoreUnreachableError, one line) rather than
            # accept associations whose every C-STORE would fail.
            self.config.remote_store.exists(".sgm-probe")
        try:
            self.recover()
        except Exception:  # e.g. the database is down: the files stay spooled, serving goes on
            log.exception("start-up recovery failed; spooled files are kept for the next start")
        self.spool.clear_partial()
        if self.config.stream_to_disk:
            stream_to(self.spool, self.config)
        self._worker = IngestWorker(self.settings, self.spool, self.config.spool_retry_seconds, self._unfinished)
        self._worker.start()
        state = ReceiverState(self.spool, self._worker.submit, self.config.remote_store)
        self._server = make_server(self.config, state, self.config.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sgm-scp", daemon=True)
        self._thread.start()
        self._listeners = start_listeners(self.config, self.spool, self._worker.queue, self.port)
        log.info(
            "%s listening on %s:%d (%d process(es))",
            self.config.ae_title,
            self.config.host,
            self.port,
            self.config.processes,
        )

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return int(self._server.server_address[1]) if self._server else self.config.port

    def stop(self) -> None:
        """Stop listening, let open associations end, then drain the worker."""
        for listener in self._listeners:
            listener.terminate()  # SIGTERM: the listener ends its associations cleanly
        if self._server is not None:
            finish_associations(self._server)
        for listener in self._listeners:
            listener.join(GRACE_SECONDS + 5)
        if self._worker is not None:
            self._worker.stop()
        log.info("receiver stopped")


def recovery_items(spool: Spool) -> list[WorkItem]:
    """Work items for every spooled file and unfinished association of an earlier run."""
    items: list[WorkItem] = []
    for leftover in spool.leftovers():
        for path in leftover.files:
            items.append(Received(path, _sop_uid(path), leftover.association, detail="recovered at start-up"))
        counts = {"recovered": len(leftover.files)}
        items.append(AssociationEnded(leftover.association, "interrupted", counts))
    items.extend(AssociationEnded(info, "interrupted") for info in spool.orphan_records())
    return items


def _sop_uid(path: Path) -> str:
    """The data set's SOP Instance UID for the audit record; "" when the file cannot say.

    Never raises: one unreadable or malformed file must not stop start-up (ingest
    quarantines it with its reason).
    """
    try:
        header = read_header(path)
    except OSError as exc:
        log.error("cannot read spooled %s: %s", path, exc)
        return ""
    return "" if isinstance(header, HeaderError) else header.sop_instance_uid
