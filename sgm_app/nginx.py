"""nginx as our foreground child: its binary, its folders, a configuration check and the process."""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
from pathlib import Path

NGINX_BIN = "/usr/sbin/nginx"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxError(RuntimeError):
    """nginx is missing or refuses the configuration; the message says which."""


def temp_paths(home: Path) -> str:
    """The *_temp_path directives for a configuration kept under `home` (none in the system's folders)."""
    return "\n  ".join(f"{name}_temp_path {home}/temp/{name};" for name in TEMP_DIRS)


def nginx_binary() -> str:
    found = shutil.which("nginx") or (NGINX_BIN if Path(NGINX_BIN).is_file() else None)
    if not found:
        raise NginxError("nginx is not installed (apt-get install nginx-light or nginx)")
    return found


def _arguments(home: Path, conf: Path, error_log: str | None) -> list[str]:
    return [nginx_binary(), "-p", str(home), "-c", str(conf), "-e", error_log or str(home / "logs/error.log")]


def write_config(home: Path, conf: Path, text: str, error_log: str | None = None) -> Path:
    """Write a rendered configuration and nginx's folders under `home`; checks it with `nginx -t`.

    `error_log` is where nginx writes before it reads the configuration: `stderr`, or by default a file
    under `home`."""
    for sub in ("run", "logs", *(f"temp/{n}" for n in TEMP_DIRS)):
        (home / sub).mkdir(parents=True, exist_ok=True)
    conf.write_text(text, encoding="utf-8")
    test = subprocess.run([*_arguments(home, conf, error_log), "-t", "-q"], capture_output=True, text=True, check=False)
    if test.returncode != 0:
        raise NginxError(f"nginx refuses {conf}: {test.stderr.strip()}")
    return conf


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value)


def end_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, however it dies (SIGKILL included)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def become_subreaper() -> None:
    """Orphaned descendants (an nginx worker whose master died) become our children, for us to stop."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def start_nginx(home: Path, conf: Path, error_log: str | None = None) -> subprocess.Popen[bytes]:
    """nginx in the foreground (daemon off) as our child, on a checked configuration; stop it with terminate().

    Should we be killed before we can, nginx gets SIGTERM from the kernel (a master that outlived us would
    keep the port and its workers forever)."""
    return subprocess.Popen(
        _arguments(home, conf, error_log),
        preexec_fn=end_with_parent,  # noqa: PLW1509 - only prctl, no lock taken; we start nginx from one thread
    )
