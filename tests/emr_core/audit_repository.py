"""A real rsyslogd on loopback as the audit record repository of a test (imtcp, received messages to a file)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_peer

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

CONFIG = """\
global(workDirectory="{work}" maxMessageSize="256k"{tls_global})
module(load="imtcp"{tls_module})
template(name="audit_raw" type="string" string="%msg%\\n")
ruleset(name="audit") {{
  action(type="omfile" file="{out}" template="audit_raw")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="audit")
"""


@dataclass
class Rsyslog:
    port: int
    received: Path
    process: subprocess.Popen[bytes] | None = None

    def lines(self) -> list[str]:
        if not self.received.exists():
            return []
        return [ln for ln in self.received.read_text(encoding="utf-8").splitlines() if "<AuditMessage" in ln]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[str]:
        """The received audit messages once there are at least count of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if len(lines) >= count:
                return lines
            time.sleep(0.1)
        raise AssertionError(f"rsyslog received {len(self.lines())} of {count} audit messages")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class TestPki:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl command."""

    ca: Path
    cert: Path
    key: Path


def make_pki(folder: Path) -> TestPki:
    require_peer(shutil.which("openssl") is not None, "openssl not installed")
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key, key, csr, cert = (folder / n for n in ("ca.pem", "ca.key", "server.key", "server.csr", "server.pem"))
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    days = ["-days", "2"]
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            ca_key,
            "-out",
            ca,
            *days,
            "-subj",
            "/CN=sgm test CA",
        ],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            *days,
            "-extfile",
            ext,
        ],
    ]
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True)
    return TestPki(ca, cert, key)


def _tls_options(pki: TestPki | None) -> dict[str, str]:
    if pki is None:
        return {"tls_global": "", "tls_module": ""}
    return {
        "tls_global": (
            f' defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="{pki.ca}"'
            f' defaultNetstreamDriverCertFile="{pki.cert}" defaultNetstreamDriverKeyFile="{pki.key}"'
        ),
        "tls_module": ' streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon"',
    }


@contextmanager
def rsyslog_server(folder: Path, port: int | None = None, pki: TestPki | None = None) -> Iterator[Rsyslog]:
    """rsyslogd in the foreground with its own config, pid file and work folder (TLS with pki); stopped on exit."""
    require_peer(Path(RSYSLOGD).exists(), "rsyslogd not installed (apt-get install rsyslog)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "work").mkdir(exist_ok=True)
    server = Rsyslog(port or free_port(), folder / "received.log")
    config = folder / "rsyslog.conf"
    options = _tls_options(pki)
    config.write_text(CONFIG.format(work=folder / "work", out=server.received, port=server.port, **options))
    log = open(folder / "rsyslogd.out", "wb")  # noqa: SIM115 - closed below, after the process
    server.process = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(folder / "rsyslogd.pid")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 15
        while not _listening(server.port):
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"rsyslogd did not start: {(folder / 'rsyslogd.out').read_text()}")
            time.sleep(0.05)
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        log.close()
