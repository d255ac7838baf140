"""Real peers for the DIMSE tests: our receiver as a subprocess, dcmtk tools, an Orthanc PACS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from emr_core.settings import Settings
from tests.conftest import require_peer

PEER_ENV = {**os.environ, "TCP_NODELAY": "1"}  # dcmtk and Orthanc are 3-5x slower without it
SGM = [sys.executable, "-c", "from sgm_app.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dcmtk(*tools: str) -> None:
    """Skip (fail in CI) unless every dcmtk tool named is installed."""
    missing = [t for t in tools if shutil.which(t) is None]
    require_peer(not missing, f"dcmtk tools missing: {', '.join(missing)}")


def run_tool(*args: str | Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool with TCP_NODELAY, capturing its output."""
    return subprocess.run(
        [str(a) for a in args], env=PEER_ENV, capture_output=True, text=True, timeout=120, check=check
    )


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout} s")


@dataclass
class ReceiverProcess:
    """`sgm dicom serve` in its own process group, on a data folder and database of a test."""

    settings: Settings
    port: int
    ae_title: str = "SGM"
    allowed_callers: str = ""
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # SGM_DICOM_* limits of a test
    log_dir: Path | None = None  # default: the data folder (a test that fills that disk moves it)

    def env(self) -> dict[str, str]:
        return {
            **PEER_ENV,
            "SGM_HOME": str(self.settings.home),
            "SGM_DATABASE_URL": self.settings.url,
            "SGM_DICOM_AE_TITLE": self.ae_title,
            "SGM_DICOM_PORT": str(self.port),
            "SGM_DICOM_ALLOWED_CALLERS": self.allowed_callers,
            **self.extra_env,
        }

    def start(self) -> ReceiverProcess:
        """Start and wait until it serves (all its listener processes included)."""
        path = (self.log_dir or self.settings.root) / f"receiver-{time.time_ns()}.log"
        log = open(path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*SGM, "dicom", "serve", *self.args],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.port, self.proc)
        deadline = time.monotonic() + 60
        while b"Ctrl-C stops" not in path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver did not start:\n{path.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self) -> int:
        """Ctrl-C: the receiver finishes its queue and exits; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=90)

    def kill(self) -> None:
        """SIGKILL the receiver and its worker (the whole process group), as a crash would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def logs(self) -> str:
        folder = self.log_dir or self.settings.root
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("receiver-*.log")))


@dataclass
class Orthanc:
    """An Orthanc of the tests: its own config, folders and loopback ports."""

    folder: Path
    dicom_port: int
    http_port: int
    proc: subprocess.Popen[bytes] | None = None
    ae_title: str = "ORTHANC"

    def config(self, our_ae: str, our_port: int) -> dict[str, object]:
        return {
            "Name": "sgm-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAet": self.ae_title,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "DicomModalities": {
                "sgm": {
                    "AET": our_ae,
                    "Host": "127.0.0.1",
                    "Port": our_port,
                    "AllowEcho": True,
                    "AllowFind": True,
                    "AllowMove": True,
                    "AllowGet": True,
                    "AllowStore": True,
                }
            },
        }

    def start(self, our_ae: str, our_port: int) -> Orthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(self.config(our_ae, our_port)))
        log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["Orthanc", str(path)], env=PEER_ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait_port(self.http_port, self.proc)
        _wait_port(self.dicom_port, self.proc)
        return self

    def stop(self) -> None:
        """Stop and wait for exit (a restart on the same index would find it locked)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def upload(self, path: Path) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/instances", data=path.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def get(self, route: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{route}", timeout=30) as response:
            return json.loads(response.read())


def start_orthanc(factory: list[Orthanc], folder: Path, our_ae: str, our_port: int) -> Orthanc:
    """A fresh Orthanc in folder that knows our AE at our_port."""
    server = Orthanc(folder, free_port(), free_port()).start(our_ae, our_port)
    factory.append(server)
    return server
