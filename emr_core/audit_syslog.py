"""Send audit messages to an audit record repository: RFC 5424 syslog, TCP (RFC 6587) or TLS (RFC 5425).

Sending never blocks the audited work: messages go to a bounded queue that one thread drains. When the
repository cannot be reached (or the queue is full, or the process exits first) messages are appended to a
spool file and resent, oldest first, once the repository answers again; nothing is dropped silently.
TCP syslog has no application acknowledgement: a message written to the socket counts as delivered.
Messages still queued in memory when the process is killed outright (SIGKILL, power loss) are lost from
the copy; the signed checkpoint file, written synchronously after each commit, still covers them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from emr_core.audit_message import now_rfc5424

log = logging.getLogger(__name__)
# Facility 10 (security/authorization), severity 5 (notice), as IHE ATNA uses.
PRIORITY = 10 * 8 + 5
MSGID = "IHE+DICOM"
QUEUE_SIZE = 10_000
RETRY_SECONDS = 5.0
CONNECT_TIMEOUT = 3.0
BOM = "\ufeff"


@dataclass(frozen=True)
class Repository:
    """Where the audit record repository listens, and the TLS context when RFC 5425 is used."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None


def frame(xml: str, hostname: str, app: str = "sgm") -> bytes:
    """One RFC 5424 message (UTF-8 MSG with BOM) with its RFC 6587 octet count."""
    header = f"<{PRIORITY}>1 {now_rfc5424()} {hostname[:255] or '-'} {app} {os.getpid()} {MSGID} -"
    message = f"{header} {BOM}{xml}".encode()
    return f"{len(message)} ".encode("ascii") + message


class SyslogSender:
    """A background sender with a bounded queue and a spool file for what could not be sent."""

    def __init__(self, repository: Repository, spool_dir: Path) -> None:
        self.repository = repository
        self.spool = spool_dir / "pending.log"
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._sock: socket.socket | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()  # the spool file is shared by the caller (queue full) and the thread
        self._hostname = socket.gethostname()
        self._thread = threading.Thread(target=self._run, name="audit-syslog", daemon=True)
        self._thread.start()

    def submit(self, xml: str) -> None:
        """Queue one AuditMessage; never blocks (a full queue spills to the spool file)."""
        try:
            self._queue.put_nowait(xml)
        except queue.Full:
            self._spool([xml])

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and the spool resent; False if it is not after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and not self._spool_pending():
                return True
            if self._queue.unfinished_tasks == 0:
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait("")  # wake the thread to retry the spool now
            time.sleep(0.05)
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (spooling the rest), then stop the thread."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout=timeout)
        leftover: list[str] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item:
                leftover.append(item)
        self._spool(leftover)
        self._disconnect()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=RETRY_SECONDS)
            except queue.Empty:
                self._guarded(self._resend_spool)  # idle: retry what the repository missed
                continue
            try:
                if item is None:
                    return
                self._guarded(self._resend_spool)
                if item:
                    self._guarded(partial(self._deliver, item))
            finally:
                self._queue.task_done()

    @staticmethod
    def _guarded(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:  # the thread must outlive any failure; the message stays spooled
            log.exception("audit syslog sender failed")

    def _deliver(self, xml: str) -> None:
        if not self._send([xml]):
            self._spool([xml])

    def _send(self, messages: list[str]) -> bool:
        """Write messages to the repository; False (and disconnected) when it cannot take them."""
        if self._sock is not None and self._peer_closed():
            self._disconnect()  # a restarted repository: reconnect rather than write into the void
        if self._sock is None and not self._connect():
            return False
        assert self._sock is not None
        try:
            self._sock.sendall(b"".join(frame(m, self._hostname) for m in messages))
            return True
        except OSError as exc:
            log.warning("audit repository %s:%d dropped: %s", self.repository.host, self.repository.port, exc)
            self._disconnect()
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return False

    def _peer_closed(self) -> bool:
        """Whether the repository closed the connection (it never sends data, so readable means closed).

        Without this check the first messages written after a repository restart go into a dead TCP
        connection and are lost without any error.
        """
        sock = self._sock
        assert sock is not None
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            sock.setblocking(False)
            try:
                return sock.recv(1) == b""
            finally:
                sock.settimeout(CONNECT_TIMEOUT)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False  # TLS housekeeping (a session ticket), not data and not a close
        except OSError:
            return True

    def _connect(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        repo = self.repository
        try:
            sock = socket.create_connection((repo.host, repo.port), timeout=CONNECT_TIMEOUT)
            if repo.tls is not None:
                sock = repo.tls.wrap_socket(sock, server_hostname=repo.host)
        except (OSError, ssl.SSLError) as exc:
            log.warning("audit repository %s:%d unreachable (%s); spooling", repo.host, repo.port, exc)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return False
        self._sock = sock
        return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _spool(self, messages: list[str]) -> None:
        if not messages:
            return
        with self._lock:
            self.spool.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.spool, "a", encoding="utf-8") as handle:
                handle.writelines(m.replace("\n", " ") + "\n" for m in messages)
                handle.flush()
                os.fsync(handle.fileno())

    def _spool_pending(self) -> bool:
        return self.spool.exists() and self.spool.stat().st_size > 0

    def _resend_spool(self) -> None:
        """Send the spooled messages, oldest first; on failure they stay spooled."""
        if not self._spool_pending() or (self._sock is None and not self._connect()):
            return
        with self._lock:
            sending = self.spool.with_name(f"sending.{os.getpid()}.log")
            os.replace(self.spool, sending)
        messages = sending.read_text(encoding="utf-8").splitlines()
        if self._send(messages):
            sending.unlink()
            return
        with self._lock:  # put them back in front of anything spooled meanwhile
            later = self.spool.read_text(encoding="utf-8") if self.spool.exists() else ""
            sending.write_text("\n".join(messages) + "\n" + later, encoding="utf-8")
            os.replace(sending, self.spool)


def tls_context(ca_file: Path | None, cert_file: Path | None) -> ssl.SSLContext:
    """Client TLS per RFC 5425: verify the repository (system CAs or ca_file), optionally present a certificate."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(str(cert_file))
    return context
