"""Files being received: written straight to the OS and pushed to disk while they grow.

pynetdicom (STORE_RECV_CHUNKED_DATASET) writes each data set fragment to a
NamedTemporaryFile as it arrives. We give it these files instead: they live in our partial
folder (same file system as the spool, so publishing is a rename); every few MB they ask the
kernel to start writing back (Linux sync_file_range), so the fsync before the acknowledgement
finds most of the file already on disk. Optionally a writer thread copies the fragments to the
kernel while the network thread reads the next PDU (os.write releases the GIL).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
WRITEBACK_BYTES = 2 * 1024 * 1024
# Fragments queued to the writer at most (~4 MB at 128 KB PDUs): keeps memory flat when the
# disk is slower than the network.
MAX_PENDING = 32
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """libc sync_file_range (Linux), or None where it does not exist."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # CDLL calls release the GIL
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return lambda fd, offset, nbytes: fn(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


_start_writeback = _load_sync_file_range()


@cache
def _writer() -> ThreadPoolExecutor:
    # One thread for all files: FIFO keeps each file's fragments in order.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sgm-writer")


class PartialFile:
    """The write side of a NamedTemporaryFile, as pynetdicom uses it (write, file.flush, close)."""

    def __init__(self, folder: Path, early_writeback: bool = True, background: bool = False) -> None:
        self._fd, self.name = tempfile.mkstemp(prefix="recv-", suffix=".dcm", dir=folder)
        self.file = self  # pynetdicom calls `.file.flush()` after each fragment
        self._written = self._pushed = 0
        self._early = early_writeback and _start_writeback is not None
        self._background = background
        self._slots = threading.BoundedSemaphore(MAX_PENDING)
        self._last: Future[None] | None = None
        self._error: BaseException | None = None

    def write(self, data: Any) -> int:
        # A write error (disk full) must not escape into pynetdicom's reader, which would
        # abort the association: keep the first one, drop what follows, and let the C-STORE
        # handler answer it (finish() raises it there: Out of Resources).
        if self._error is not None:
            return len(data)
        if not self._background:
            try:
                self._write(data)
            except OSError as exc:
                self._error = exc
                self._truncate()
        else:
            self._slots.acquire()
            self._last = _writer().submit(self._write_queued, data)
        return len(data)

    def flush(self) -> None:
        """Nothing to do per fragment: finish() waits for the writer before the file is used."""

    def finish(self) -> None:
        """Return once every fragment is in the kernel; raise the first write error."""
        if self._last is not None:
            self._last.result()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Close without raising (pynetdicom closes in its own clean-up; errors went to finish())."""
        if self._fd >= 0:
            if self._last is not None:
                self._last.exception()  # wait for the writer, whatever its outcome
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        """Close and delete: a receive that will never be published (failed, or cut by an abort)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)

    def _truncate(self) -> None:
        # Give the space back now: the sender may retry while this association stays open.
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)

    def _write_queued(self, data: Any) -> None:
        try:
            if self._error is None:
                self._write(data)
        except BaseException as exc:
            self._error = exc
            self._truncate()
        finally:
            self._slots.release()

    def _write(self, data: Any) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(data)
        if self._early and self._written - self._pushed >= WRITEBACK_BYTES:
            _start_writeback(self._fd, self._pushed, self._written - self._pushed)  # type: ignore[misc]
            self._pushed = self._written


def partial_file_factory(
    folder: Path, early_writeback: bool = True, background: bool = False
) -> Callable[..., PartialFile]:
    """A stand-in for NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")."""
    folder.mkdir(parents=True, exist_ok=True)
    return lambda *_args, **_kwargs: PartialFile(folder, early_writeback, background)
