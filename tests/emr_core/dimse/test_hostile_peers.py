"""Hostile and broken peers on raw sockets: bounded memory, timeouts, a burst of associations.

Each test runs the real receiver process with small limits and checks that a real sender
(dcmtk echoscu) is still served while, and after, the hostile peers do their worst.
"""

from __future__ import annotations

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from tests.emr_core.dimse.peers import ReceiverProcess, dcmtk, run_tool
from tests.emr_core.dimse.raw_peer import (
    associate_rq,
    associated,
    closed_within,
    connect,
    read_pdu_type,
    rss_kb,
)

ARTIM = 4.0
NETWORK = 4.0
LIMITS = {"SGM_DICOM_ARTIM_TIMEOUT": str(ARTIM), "SGM_DICOM_NETWORK_TIMEOUT": str(NETWORK)}
HUGE = b"\xff\xff\xff\xff"


def _echo(receiver: ReceiverProcess) -> bool:
    result = run_tool("echoscu", "-to", "10", "-aet", "MODALITY", "-aec", "SGM", "127.0.0.1", str(receiver.port))
    return result.returncode == 0


def _pid(receiver: ReceiverProcess) -> int:
    assert receiver.proc is not None
    return receiver.proc.pid


def test_claimed_pdu_length_allocates_nothing(receiver: ReceiverProcess) -> None:
    """Point 10: a header claiming 4 GB (before and inside an association) costs no memory."""
    dcmtk("echoscu")
    receiver.extra_env = LIMITS
    receiver.start()
    before = rss_kb(_pid(receiver))
    claims = []
    for _ in range(5):  # A-ASSOCIATE-RQ claiming 0xFFFFFFFF: no association or AE title needed
        sock = connect(receiver.port)
        sock.sendall(b"\x01\x00" + HUGE)
        claims.append(sock)
    in_association = associated(receiver.port)
    in_association.sendall(b"\x04\x00" + HUGE + b"\x00" * 10)  # P-DATA-TF over the negotiated maximum
    claims.append(in_association)
    for sock in claims:
        assert closed_within(sock, 5.0) is not None, "a 4 GB claim must close the connection"
        sock.close()
    grown = rss_kb(_pid(receiver)) - before
    assert grown < 50_000, f"receiver grew by {grown} kB on claims alone"
    assert _echo(receiver)
    assert receiver.stop() == 0
    assert "Traceback" not in receiver.logs()


def test_half_requests_and_silent_peers_lock_nobody_out(receiver: ReceiverProcess) -> None:
    """Point 11: 17 half A-ASSOCIATE-RQs and 17 silent connections, a real sender still served."""
    dcmtk("echoscu")
    receiver.extra_env = LIMITS  # 16 associations at most (the default)
    receiver.start()
    request = associate_rq()
    stalled = []
    for _ in range(17):
        half = connect(receiver.port)
        half.sendall(request[: len(request) // 2])
        stalled.append(half)
        stalled.append(connect(receiver.port))  # says nothing at all
    time.sleep(0.3)
    started = time.monotonic()
    assert _echo(receiver), "a sender must be served while set-ups stall"
    assert time.monotonic() - started < ARTIM, "the echo must have run while the stalls were open"
    waits = [closed_within(sock, ARTIM + 5) for sock in stalled]
    assert all(w is not None for w in waits), f"stalled connections not closed by ARTIM: {waits}"
    for sock in stalled:
        sock.close()
    assert _echo(receiver)
    assert receiver.stop() == 0


def test_pdata_promising_more_than_sent_is_closed(receiver: ReceiverProcess) -> None:
    """Point 11: a P-DATA header promising 100 kB, then 10 bytes: closed by the network timeout."""
    dcmtk("echoscu")
    receiver.extra_env = LIMITS
    receiver.start()
    sock = associated(receiver.port)
    silent = associated(receiver.port)  # an association that then says nothing holds a slot too
    sock.sendall(b"\x04\x00" + struct.pack(">I", 100_000) + b"\x00" * 10)
    waited = closed_within(sock, NETWORK + 5)
    assert waited is not None and waited >= NETWORK - 1, f"closed after {waited} s"
    assert closed_within(silent, NETWORK + 5) is not None, "an idle association must be released"
    sock.close()
    silent.close()
    assert _echo(receiver)
    assert receiver.stop() == 0


def _raw_associate(port: int) -> int | None:
    with connect(port, timeout=30) as sock:
        sock.sendall(associate_rq())
        return read_pdu_type(sock, 30)


def test_fifty_simultaneous_associations_all_get_an_answer(receiver: ReceiverProcess) -> None:
    """Point 11: 50 raw associations at once: each gets an A-ASSOCIATE-AC or -RJ, quickly."""
    dcmtk("echoscu")
    receiver.extra_env = LIMITS
    receiver.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(_raw_associate, [receiver.port] * 50))
    elapsed = time.monotonic() - started
    assert all(a in (0x02, 0x03) for a in answers), answers  # AC or RJ, never silence
    assert answers.count(0x02) >= 1 and elapsed < 30, (answers, elapsed)
    assert _echo(receiver)
    assert receiver.stop() == 0


def _hold_every_slot(port: int, slots: int) -> list[socket.socket]:
    """`slots` accepted associations in a row; retried while start()'s port probes still hold a slot (<= ARTIM)."""
    deadline = time.monotonic() + ARTIM + 20
    while True:
        held = [connect(port) for _ in range(slots)]
        for sock in held:
            sock.sendall(associate_rq())
        if all(read_pdu_type(sock, 10) == 0x02 for sock in held):
            return held
        for sock in held:
            sock.close()
        assert time.monotonic() < deadline, f"{slots} associations were never accepted together"
        time.sleep(0.5)


def test_connections_over_the_cap_are_answered_and_closed(receiver: ReceiverProcess) -> None:
    """Over SGM_DICOM_MAX_CONNECTIONS a connection gets a transient A-ASSOCIATE-RJ at once."""
    receiver.extra_env = {**LIMITS, "SGM_DICOM_MAX_CONNECTIONS": "3"}
    receiver.start()
    held = _hold_every_slot(receiver.port, 3)
    extra = connect(receiver.port)
    extra.sendall(associate_rq())
    assert read_pdu_type(extra, 5) == 0x03, receiver.logs()
    for sock in [*held, extra]:
        sock.close()
    deadline = time.monotonic() + ARTIM + 3  # closed set-ups free their slot within ARTIM
    while (answer := _raw_associate(receiver.port)) != 0x02 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert answer == 0x02
    assert receiver.stop() == 0


def test_limits_are_typed_settings() -> None:
    from emr_core.dimse.config import ReceiverConfig
    from emr_core.settings import Settings

    settings = Settings(dicom_artim_timeout=5, dicom_network_timeout=7, dicom_listen_backlog=256)
    config = ReceiverConfig.from_settings(settings)
    assert (config.artim_timeout, config.network_timeout, config.listen_backlog) == (5, 7, 256)
    assert config.max_pdu_cap == 16 * 1024 * 1024 and config.max_associations == 16
