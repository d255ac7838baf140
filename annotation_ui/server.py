"""Run Label Studio headless on loopback, with credentials generated on first run (never a default)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from annotation_ui.client import is_up
from emr_core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BIN = REPO / ".venv-labelstudio" / "bin" / "label-studio"
ADMIN_EMAIL = "admin@sgm.local"


class LabelStudioError(RuntimeError):
    """Label Studio is missing, cannot start, or does not answer; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    """The admin account of our Label Studio, kept in the data folder with mode 0600."""

    email: str
    password: str
    token: str


@dataclass(frozen=True)
class LabelStudioServer:
    """Where our Label Studio lives: executable, loopback port, data folder, image document root."""

    binary: Path
    port: int
    home: Path  # <data folder>/labelstudio
    document_root: Path  # rendered PNGs are served from below here

    @classmethod
    def from_settings(cls, settings: Settings, port: int | None = None) -> LabelStudioServer:
        """Executable from SGM_LABEL_STUDIO_BIN, port from SGM_LABEL_STUDIO_PORT (default 8080)."""
        binary = settings.label_studio_bin or DEFAULT_BIN
        chosen = port or settings.label_studio_port
        return cls(binary, chosen, settings.root / "labelstudio", settings.rendered_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"


def install_check(server: LabelStudioServer) -> str:
    """The installed Label Studio version; raises with the fix when it is not installed."""
    python = server.binary.parent / "python"
    if not server.binary.is_file() or not os.access(server.binary, os.X_OK):
        raise LabelStudioError(
            f"Label Studio not found at {server.binary}: run `make setup` or set SGM_LABEL_STUDIO_BIN"
        )
    # `label-studio --version` starts a server; ask its own venv's package metadata instead.
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise LabelStudioError(f"{server.binary} is not a working Label Studio install: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def credentials(server: LabelStudioServer) -> Credentials:
    """The admin credentials, generated once and written with mode 0600."""
    path = server.home / "credentials.json"
    if not path.exists():
        server.home.mkdir(parents=True, exist_ok=True)
        data = {"email": ADMIN_EMAIL, "password": secrets.token_urlsafe(24), "token": secrets.token_hex(20)}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated them first: use theirs
            return credentials(server)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # tighten copies restored with a looser mode
    return Credentials(**json.loads(path.read_text(encoding="utf-8")))


def server_env(server: LabelStudioServer) -> dict[str, str]:
    """Environment for a headless, offline, signup-closed Label Studio."""
    creds = credentials(server)
    server.document_root.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(server.home / "data"),
        "LABEL_STUDIO_USERNAME": creds.email,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        # Without it the preset token is rejected (401); it only applies when the organisation is created.
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(server.document_root),
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }


def _command(server: LabelStudioServer) -> list[str]:
    return [str(server.binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(server.port)]


def is_ready(server: LabelStudioServer) -> bool:
    """True when our port answers Label Studio's health check."""
    return is_up(server.url)


def running_pid(server: LabelStudioServer) -> int | None:
    """The pid of the server we started, if that process still exists."""
    try:
        pid = int(server.pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    # A stale pid file may name a pid reused by another program: never signal that one.
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"label-studio" not in cmdline.read_bytes():
        return None
    return pid


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _preflight(server: LabelStudioServer) -> dict[str, str]:
    """Install check, a free port, the environment; raises with the fix."""
    install_check(server)
    if _port_in_use(server.port):
        # Label Studio would silently move to another port: refuse instead.
        raise LabelStudioError(f"port {server.port} is in use: stop that service or set SGM_LABEL_STUDIO_PORT")
    server.home.mkdir(parents=True, exist_ok=True)
    return server_env(server)


def start(server: LabelStudioServer, timeout: float = 600.0) -> int:
    """Start in the background (its own process group) and wait until ready; returns the pid."""
    pid = running_pid(server)
    if pid and is_ready(server):
        return pid
    env = _preflight(server)
    with open(server.log_file, "ab") as log:
        process = subprocess.Popen(
            _command(server),
            env=env,
            cwd=server.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server.pid_file.write_text(str(process.pid))
    wait_ready(server, timeout, process)
    return process.pid


def run_foreground(server: LabelStudioServer) -> None:
    """Replace this process with Label Studio (for supervisors and `make run` job control)."""
    env = _preflight(server)
    server.pid_file.write_text(str(os.getpid()))
    os.chdir(server.home)
    log = os.open(server.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # its request log would flood the console it shares with other services
    os.dup2(log, 2)
    os.execve(str(server.binary), _command(server), env)


def wait_ready(server: LabelStudioServer, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll /health until UP; raise with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(server):
            return
        if process is not None and process.poll() is not None:
            raise LabelStudioError(f"Label Studio exited ({process.returncode}); log:\n{_log_tail(server)}")
        time.sleep(0.5)
    raise LabelStudioError(f"Label Studio not ready on {server.url} after {timeout:.0f} s; log:\n{_log_tail(server)}")


def _log_tail(server: LabelStudioServer, lines: int = 20) -> str:
    try:
        return "\n".join(server.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(server: LabelStudioServer, timeout: float = 30.0) -> bool:
    """Stop the server we started (its whole process group); False if none was running."""
    pid = running_pid(server)
    if pid is None:
        server.pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(server):
        _reap(pid)
        time.sleep(0.2)
    if running_pid(server):
        _signal_group(pid, signal.SIGKILL)
        _reap(pid)
    server.pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Only a group the server leads (our background start): a foreground server shares its caller's.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    # A child of this process stays a zombie (and "alive" to kill(0)) until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
