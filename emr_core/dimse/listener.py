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
from emr_core.dimse.transport import BoundedRequestHandler, PlainRequestHandler, quiet_peer_errors
from emr_core.dimse.worker import die_with_parent

log = logging.getLogger(__name__)
GRACE_SECONDS = 10.0
STARTUP_SECONDS = 60.0


# Connections still setting up an association (no A-ASSOCIATE-RQ yet, or closing): they hold
# no association slot, so a peer that connects and sends nothing locks no sender out.
_SETTING_UP = frozenset({"Sta1", "Sta2", "Sta13"})
# A-ASSOCIATE-RJ: transient (2), service-provider presentation related (3), local limit exceeded (2).
_REJECT_LOCAL_LIMIT = bytes([0x03, 0, 0, 0, 0, 4, 0, 2, 3, 2])


_STARTING_LOCK = threading.Lock()


class ReceiverAE(AE):
    """An AE whose association limit counts associations, not sockets still setting up."""

    max_pdu_cap: int = 16 * 1024 * 1024
    max_connections: int = 64

    @property
    def active_associations(self) -> list[Any]:
        # pynetdicom's limit check (acse.py) reads this while the new association is in Sta3.
        return [a for a in super().active_associations if a.dul.state_machine.current_state not in _SETTING_UP]


class ReceiverServer(ThreadedAssociationServer):
    """The association server: a sized listen backlog, and a cap on open connections."""

    _starting = 0  # connections accepted whose association thread is not running yet

    def process_request(self, request: Any, client_address: Any) -> None:
        # Creating an association takes a while on a busy machine (measured > 1 s): count it from
        # the accept, or a burst of connections slips past the cap before their threads exist.
        with _STARTING_LOCK:
            self._starting += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with _STARTING_LOCK:
                self._starting -= 1

    def server_activate(self) -> None:
        # socketserver's default backlog of 5 drops SYNs under a burst of senders.
        assert self.socket is not None
        self.socket.listen(int(getattr(self.ae, "listen_backlog", 128)))

    def verify_request(self, request: Any, client_address: Any) -> bool:
        limit = int(getattr(self.ae, "max_connections", 64))
        if self._starting + len(self.active_associations) < limit:
            return True
        log.warning("refusing connection from %s: %d connections open", client_address, limit)
        _answer_busy(request)
        return False  # socketserver closes it


class SharedPortServer(ReceiverServer):
    """A receiver server that other listener processes may bind beside."""

    def server_bind(self) -> None:
        # pynetdicom's server_bind binds directly (socketserver's allow_reuse_port is never read).
        assert self.socket is not None
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def _answer_busy(request: socket.socket) -> None:
    """Best effort: tell a peer over the connection cap why, instead of a bare close."""
    try:
        request.setblocking(False)
        try:
            while request.recv(65536, socket.MSG_DONTWAIT):
                pass  # unread bytes at close would turn it into a reset that hides the answer
        except BlockingIOError:
            pass
        request.send(_REJECT_LOCAL_LIMIT)
        request.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def make_ae(config: ReceiverConfig) -> ReceiverAE:
    """Our AE: identity, callers, contexts, and every limit and timeout from the config."""
    ae = ReceiverAE(config.ae_title)
    ae.maximum_pdu_size = config.max_pdu
    ae.maximum_associations = config.max_associations
    ae.max_connections = config.max_connections
    ae.max_pdu_cap = config.max_pdu_cap
    ae.listen_backlog = config.listen_backlog  # type: ignore[attr-defined]
    ae.acse_timeout = config.artim_timeout  # pynetdicom's ARTIM timer uses the ACSE timeout
    ae.network_timeout = config.network_timeout
    ae.dimse_timeout = config.network_timeout
    ae.require_calling_aet = list(config.allowed_callers)
    ae.supported_contexts = storage_contexts()
    return ae


def make_server(config: ReceiverConfig, state: ReceiverState, port: int) -> Any:
    """The association server (bound, not yet serving) with our contexts and handlers."""
    ae = make_ae(config)
    quiet_peer_errors()
    extra: dict[str, Any] = {
        "server_class": SharedPortServer if config.processes > 1 else ReceiverServer,
        "request_handler": BoundedRequestHandler if config.fast_transport else PlainRequestHandler,
    }
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
    dimse_messages.NamedTemporaryFile = partial_file_factory(  # type: ignore[assignment]
        spool.partial_dir, config.early_writeback, config.background_writes
    )


def finish_associations(server: Any, grace: float = GRACE_SECONDS) -> None:
    """Stop accepting, give open associations `grace` seconds to end, then abort the rest."""
    server.shutdown()  # no new associations; closes the listening socket
    deadline = time.monotonic() + grace
    while any(a.is_established for a in server.active_associations) and time.monotonic() < deadline:
        time.sleep(0.1)
    for assoc in server.active_associations:
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
    server = make_server(config, ReceiverState(spool, queue.put, config.remote_store), port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("extra listener %s serving port %d", multiprocessing.current_process().name, port)
    ready.set()
    stop.wait()
    finish_associations(server)
