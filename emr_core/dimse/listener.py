"""Listening for associations: the pynetdicom server, in this process or in extra ones.

Several associations at once share one process's GIL; with `processes` > 1 the extra
listener processes bind the same port (SO_REUSEPORT, the kernel spreads connections) and
hand their work to the one ingest worker through its queue.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from typing import Any

from pynetdicom import AE, _config, dimse_messages
from pynetdicom.transport import ThreadedAssociationServer

from emr_core.dimse.config import ReceiverConfig, storage_contexts
from emr_core.dimse.handlers import ReceiverState, event_handlers
from emr_core.dimse.partial import partial_file_factory
from emr_core.dimse.spool import Spool
from emr_core.dimse.transport import FastRequestHandler
from emr_core.dimse.worker import die_with_parent

log = logging.getLogger(__name__)
GRACE_SECONDS = 10.0
STARTUP_SECONDS = 60.0


class SharedPortServer(ThreadedAssociationServer):
    """A threaded association server that other listener processes may bind beside."""

    def server_bind(self) -> None:
        # pynetdicom's server_bind binds directly (socketserver's allow_reuse_port is never read).
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def make_server(config: ReceiverConfig, state: ReceiverState, port: int) -> Any:
    """The association server (bound, not yet serving) with our contexts and handlers."""
    ae = AE(config.ae_title)
    ae.maximum_pdu_size = config.max_pdu
    ae.maximum_associations = config.max_associations
    ae.require_calling_aet = list(config.allowed_callers)
    ae.supported_contexts = storage_contexts()
    extra: dict[str, Any] = {"server_class": SharedPortServer if config.processes > 1 else ThreadedAssociationServer}
    if config.fast_transport:
        extra["request_handler"] = FastRequestHandler
    server = ae.make_server((config.host, port), evt_handlers=event_handlers(state), **extra)
    ae._servers.append(server)  # as AE.start_server does: server.shutdown() expects it there
    return server


def stream_to(spool: Spool, config: ReceiverConfig) -> None:
    """Have pynetdicom write each data set to a file as its fragments arrive.

    The disk write then overlaps the network receive, so answering needs only an fsync and
    a rename, and memory stays flat however large the object. pynetdicom makes these files
    with its module's NamedTemporaryFile: swap in our PartialFile (this process is a
    listener of the receiver, the setting is process-wide).
    """
    _config.STORE_RECV_CHUNKED_DATASET = True
    dimse_messages.NamedTemporaryFile = partial_file_factory(
        spool.partial_dir, config.early_writeback, config.background_writes
    )


def finish_associations(server: Any, grace: float = GRACE_SECONDS) -> None:
    """Stop accepting, give open associations `grace` seconds to end, then abort the rest."""
    server.shutdown()  # no new associations; closes the listening socket
    ae = server.ae
    deadline = time.monotonic() + grace
    while any(a.is_established for a in ae.active_associations) and time.monotonic() < deadline:
        time.sleep(0.1)
    for assoc in ae.active_associations:
        if assoc.is_established:
            log.warning("aborting association from %s at shutdown", assoc.requestor.ae_title)
        assoc.abort()  # also connections that never asked for an association


def start_listeners(config: ReceiverConfig, spool: Spool, queue: Any, port: int) -> list[Any]:
    """The extra listener processes (config.processes - 1) on the same port, once they serve."""
    context = multiprocessing.get_context("spawn")
    started = []
    for i in range(1, config.processes):
        ready = context.Event()
        process = context.Process(
            target=_listener_main, args=(config, spool, queue, port, ready), name=f"sgm-listener-{i}"
        )
        process.start()
        started.append((process, ready))
    for process, ready in started:
        if not ready.wait(STARTUP_SECONDS):
            raise RuntimeError(f"{process.name} did not start listening on port {port}")
    return [process for process, _ready in started]


def _listener_main(config: ReceiverConfig, spool: Spool, queue: Any, port: int, ready: Any) -> None:
    """An extra listener: serve until SIGTERM, then end its associations cleanly."""
    die_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    if config.stream_to_disk:
        stream_to(spool, config)
    server = make_server(config, ReceiverState(spool, queue.put), port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("extra listener %s serving port %d", multiprocessing.current_process().name, port)
    ready.set()
    stop.wait()
    finish_associations(server)
