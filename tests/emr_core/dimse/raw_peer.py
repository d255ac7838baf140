"""Hand-made hostile peers: raw PDUs over a plain socket to 127.0.0.1, and odd DIMSE requests."""

from __future__ import annotations

import io
import socket
import struct
import time
from pathlib import Path

APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"
VERIFICATION = b"1.2.840.10008.1.1"
IMPLICIT_LE = b"1.2.840.10008.1.2"
IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.10.1527.99"


def _item(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def associate_rq(called: str = "SGM", calling: str = "RAWPEER", max_pdu: int = 16384) -> bytes:
    """A complete A-ASSOCIATE-RQ proposing Verification in implicit VR little endian."""
    context = _item(0x20, bytes([1, 0, 0, 0]) + _item(0x30, VERIFICATION) + _item(0x40, IMPLICIT_LE))
    user = _item(0x50, _item(0x51, struct.pack(">I", max_pdu)) + _item(0x52, IMPLEMENTATION_UID))
    body = (
        struct.pack(">HH", 1, 0)
        + called.ljust(16).encode()
        + calling.ljust(16).encode()
        + bytes(32)
        + _item(0x10, APPLICATION_CONTEXT)
        + context
        + user
    )
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_pdu_type(sock: socket.socket, timeout: float) -> int | None:
    """The type byte of the next PDU from the peer; None if it closed first."""
    sock.settimeout(timeout)
    try:
        first = sock.recv(1)
    except ConnectionResetError:
        return None
    return first[0] if first else None


def associated(port: int) -> socket.socket:
    """A raw socket with an established association (asserts the A-ASSOCIATE-AC)."""
    sock = connect(port)
    sock.sendall(associate_rq())
    assert read_pdu_type(sock, 10) == 0x02, "no A-ASSOCIATE-AC"
    length = struct.unpack(">xI", _recv_exactly(sock, 5))[0]
    _recv_exactly(sock, length)
    return sock


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the peer closed the connection (reading and discarding), None if it did not."""
    start = time.monotonic()
    deadline = start + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except TimeoutError:
            return None
        except OSError:  # reset
            return time.monotonic() - start
    return None


def rss_kb(pid: int) -> int:
    """Resident memory of a process (VmRSS from /proc), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def send_dataset(
    port: int, sop_class: str, sop_instance: str, syntax: str, dataset: bytes, called: str = "SGM"
) -> tuple[int, str]:
    """C-STORE exactly these data set bytes under the given command UIDs; (status, error comment)."""
    from pynetdicom import AE
    from pynetdicom.dimse_primitives import C_STORE

    ae = AE("RAWSENDER")
    ae.add_requested_context(sop_class, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    assert assoc.is_established
    try:
        request = C_STORE()
        request.MessageID = 1
        request.AffectedSOPClassUID = sop_class
        request.AffectedSOPInstanceUID = sop_instance
        request.Priority = 2
        request.DataSet = io.BytesIO(dataset)
        (context,) = assoc.accepted_contexts
        assoc._reactor_checkpoint.clear()  # as send_c_store: keep the reactor off our response
        while not assoc._is_paused:
            time.sleep(0.0001)
        assert context.context_id is not None
        assoc.dimse.send_msg(request, context.context_id)
        _, response = assoc.dimse.get_msg(block=True)
        assoc._reactor_checkpoint.set()
        assert response is not None, "no C-STORE response"
        assert response.Status is not None
        return int(response.Status), str(response.ErrorComment or "")
    finally:
        assoc.release()
