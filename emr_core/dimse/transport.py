"""The receiver's socket reads: bounded in time and memory, and faster than pynetdicom's.

pynetdicom 3.0 reads each PDU with blocking 4 KB `recv` calls appended to a bytearray, with
no timeout on an accepted socket: a peer that sends half a PDU holds the connection (and an
association slot) for ever, and the PDU length a peer claims is trusted. Here every read has
a deadline (ARTIM until the association is established, the network timeout after), a PDU
longer than we negotiated (or than a hard cap) closes the connection, and the buffer grows
only as bytes actually arrive. A PDU of normal size is still read with `recv_into` one
preallocated buffer: the same bytes with a fraction of the work.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import Any

from pynetdicom.transport import AssociationSocket, RequestHandler

log = logging.getLogger(__name__)
P_DATA_TF = 0x04
# Preallocated at once; beyond this the buffer doubles as data arrives (a claim costs nothing).
FIRST_ALLOCATION = 256 * 1024
# A-ASSOCIATE-RQ and the other non-data PDUs: a full proposal of 128 contexts is ~40 KB.
CONTROL_PDU_CAP = 1024 * 1024


class PduTooLongError(OSError):
    """A peer's PDU is longer than we allow; pynetdicom closes the connection on OSError."""


class BoundedAssociationSocket(AssociationSocket):
    """AssociationSocket whose reads have deadlines and whose PDU sizes are bounded."""

    _pdu_type = 0
    fast = True

    def recv(self, nr_bytes: int) -> bytearray:
        """Read exactly nr_bytes unless the peer closes first (then what arrived, as pynetdicom)."""
        if nr_bytes == 6:  # pynetdicom reads each PDU as a 6-byte header, then its body
            header = self._read(6)
            self._pdu_type = header[0] if header else 0
            return header
        limit = self._limit()
        if nr_bytes > limit:
            raise PduTooLongError(f"peer claims a {nr_bytes}-byte PDU (type 0x{self._pdu_type:02X}); limit {limit}")
        return self._read(nr_bytes)

    def _limit(self) -> int:
        ae = self.assoc.ae
        cap = int(getattr(ae, "max_pdu_cap", CONTROL_PDU_CAP))
        if self._pdu_type != P_DATA_TF:
            return min(cap, CONTROL_PDU_CAP)
        negotiated = int(ae.maximum_pdu_size or 0)  # what we told the peer we receive; 0 = no limit
        return min(cap, negotiated) if negotiated else cap

    def _timeout(self) -> float:
        # ARTIM bounds association set-up (PS3.8 9.1.5); inside an association, the network timeout.
        assoc = self.assoc
        value = assoc.network_timeout if assoc.is_established else assoc.acse_timeout
        return float(value) if value else 60.0

    def _read(self, nr_bytes: int) -> bytearray:
        sock: socket.socket = self.socket  # type: ignore[assignment]
        timeout = self._timeout()
        self._arm(sock, timeout)
        deadline = time.monotonic() + timeout
        buffer = bytearray(min(nr_bytes, FIRST_ALLOCATION))
        got = 0
        chunk = nr_bytes if self.fast else 4096
        while got < nr_bytes:
            if got == len(buffer):
                buffer.extend(bytes(min(len(buffer), nr_bytes - len(buffer))))  # grow as data arrives
            try:
                # A temporary view: none may outlive the call, or the bytearray could not grow.
                n = sock.recv_into(memoryview(buffer)[got:], min(chunk, len(buffer) - got))
            except BlockingIOError:  # SO_RCVTIMEO expired
                raise TimeoutError(f"peer sent {got} of {nr_bytes} bytes, then nothing for {timeout} s") from None
            if n == 0:
                del buffer[got:]
                return buffer
            got += n
            if got < nr_bytes and time.monotonic() > deadline:  # a trickle must not hold us either
                raise TimeoutError(f"peer sent {got} of {nr_bytes} bytes in {timeout} s")
        return buffer

    _armed: float | None = None

    def _arm(self, sock: socket.socket, timeout: float) -> None:
        """A kernel receive timeout (SO_RCVTIMEO): blocking reads stay one system call each."""
        if timeout == self._armed:
            return
        if sock.gettimeout() is not None:
            sock.settimeout(None)  # Python's own timeouts poll before every read
        seconds = int(timeout)
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, int((timeout - seconds) * 1e6))
        )
        self._armed = timeout


class _PeerErrorsWithoutTraceback(logging.Filter):
    """pynetdicom logs a traceback when a read fails; for a refused or stalled peer one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], (PduTooLongError, TimeoutError)):
            record.msg, record.args, record.exc_info = "closing connection: %s", (record.exc_info[1],), None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_peer_errors() -> None:
    """Install the filter on pynetdicom's DUL logger (once)."""
    dul_log = logging.getLogger("pynetdicom.dul")
    if not any(isinstance(f, _PeerErrorsWithoutTraceback) for f in dul_log.filters):
        dul_log.addFilter(_PeerErrorsWithoutTraceback())


class BoundedRequestHandler(RequestHandler):
    """RequestHandler that gives each association a BoundedAssociationSocket."""

    fast = True

    def _create_association(self) -> Any:
        assoc = super()._create_association()
        # Re-class rather than re-create: a second socket would queue a second
        # "connection open" event into the state machine.
        assoc.dul.socket.__class__ = BoundedAssociationSocket if self.fast else _PlainBoundedSocket
        return assoc


class _PlainBoundedSocket(BoundedAssociationSocket):
    """pynetdicom's 4 KB reads (for comparison benchmarks), with the same bounds."""

    fast = False


class PlainRequestHandler(BoundedRequestHandler):
    """The comparison transport: 4 KB reads, still bounded."""

    fast = False
