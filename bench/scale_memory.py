"""Peak memory of this process and of every process it starts (pool workers, the forkserver, the API server).

getrusage only reports a child once it has been waited for, and pool workers are children of the
forkserver, which lives as long as this process: so a thread also reads the kernel's own high-water
mark (VmHWM in /proc/PID/status, exact, not sampled) of every live descendant once a second.
"""

from __future__ import annotations

import os
import resource
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def _children() -> dict[int, list[int]]:
    """ppid -> pids of every process on the machine (from /proc/PID/stat)."""
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and parentheses
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of every live process below `root`."""
    tree, found, todo = _children(), [], [root]
    while todo:
        parent = todo.pop()
        for child in tree.get(parent, []):
            found.append((child, parent))
            todo.append(child)
    return found


def _role(argv: list[str], parent: int) -> str:
    """What a process is, from its command line and where it sits in the tree."""
    text = " ".join(argv)
    if "resource_tracker" in text:
        return "resource tracker"
    if "forkserver" in text:  # pool workers are forked from the forkserver and keep its command line
        return "forkserver" if parent == os.getpid() else "pool worker"
    if "api" in argv and "serve" in argv:
        return "api server"
    return Path(argv[0]).name


def _peak_and_role(pid: int, parent: int) -> tuple[int, str] | None:
    """(VmHWM in KiB, what it is) of one process, None once it has gone (a zombie has no command line)."""
    try:
        status = (PROC / str(pid) / "status").read_text()
        argv = [a.decode(errors="replace") for a in (PROC / str(pid) / "cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return None
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return (hwm, _role(argv, parent)) if argv and hwm else None


@dataclass
class MemoryWatch:
    """Per-process peak RSS (MiB) of descendants seen since the last `take`, read by a background thread."""

    interval: float = 1.0
    peaks: dict[int, tuple[float, str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> MemoryWatch:
        threading.Thread(target=self._loop, name="memory-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Read the high-water mark of every live descendant now."""
        for pid, parent in descendants(os.getpid()):
            found = _peak_and_role(pid, parent)
            if found is not None:
                with self._lock:
                    old = self.peaks.get(pid, (0.0, ""))[0]
                    self.peaks[pid] = (max(old, found[0] / 1024), found[1])

    def take(self) -> dict[str, float]:
        """Peaks since the last take, by role and pid ("pool worker 1234": MiB); then start afresh."""
        self.sample()
        with self._lock:
            taken, self.peaks = self.peaks, {}
        return {f"{role} {pid}": round(mib, 1) for pid, (mib, role) in sorted(taken.items())}


def reset_own_peak() -> None:
    """Restart this process's high-water mark (Linux: 5 > /proc/self/clear_refs), so each stage gets its own."""
    with suppress(OSError):  # not Linux, or not allowed: the lifetime peak is reported instead
        (PROC / "self" / "clear_refs").write_text("5")


def rusage_mib() -> dict[str, float]:
    """ru_maxrss of this process (since the last reset_own_peak: Linux resets both marks) and of the largest
    waited-for descendant, in MiB (Linux reports KiB)."""
    return {
        "main (RUSAGE_SELF)": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children (RUSAGE_CHILDREN)": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
