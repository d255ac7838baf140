"""A cheap look at the incoming folder, so a sensor can tell when new files have settled."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IncomingSnapshot:
    files: int
    newest_mtime: float

    def settled(self, quiet_seconds: float, now: float | None = None) -> bool:
        """True when files are waiting and none changed within the last quiet_seconds."""
        now = time.time() if now is None else now
        return self.files > 0 and now - self.newest_mtime >= quiet_seconds

    @property
    def key(self) -> str:
        return f"{self.files}-{self.newest_mtime:.6f}"


def incoming_snapshot(folder: Path) -> IncomingSnapshot:
    """Count the files under folder (recursively) and find the newest modification time."""
    files, newest = 0, 0.0
    if not folder.is_dir():
        return IncomingSnapshot(0, 0.0)
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if name.startswith("."):
                continue  # temp files of writers still in progress
            try:
                mtime = os.stat(os.path.join(root, name)).st_mtime
            except FileNotFoundError:
                continue  # moved away by a running ingest
            files += 1
            newest = max(newest, mtime)
    return IncomingSnapshot(files, newest)
