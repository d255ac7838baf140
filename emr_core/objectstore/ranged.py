"""A seekable, read-only file over ranged reads: parsers read headers, not whole objects."""

from __future__ import annotations

import io
from collections.abc import Callable

FIRST_WINDOW = 16 * 1024  # a mammogram header fits; header.PREFIX_BYTES is the same size
MAX_WINDOW = 8 * 1024 * 1024


class RangedReader(io.RawIOBase):
    """Each read that misses the buffer fetches one range; sequential misses double the range.

    A header parse reads the first 16 KB, then 32 KB, 64 KB... only if it keeps going; a read of
    the pixel data (one large read) fetches exactly what is asked in one request.
    """

    def __init__(self, fetch: Callable[[int, int], tuple[bytes, int]], size: int | None = None) -> None:
        """fetch(start, length) returns the bytes and the object's total size (S3's Content-Range),
        so that no separate HEAD request is needed before the first read."""
        super().__init__()
        self._fetch, self._known = fetch, size
        self._pos = 0
        self._buffer, self._buffer_start = b"", 0
        self._window = FIRST_WINDOW

    @property
    def size(self) -> int:
        if self._known is None:
            self._fill(0, FIRST_WINDOW)
        assert self._known is not None
        return self._known

    @property
    def _size(self) -> int:
        return self.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        start = self._pos
        if not (self._buffer_start <= start and end <= self._buffer_start + len(self._buffer)):
            self._fill(start, end - start)
        offset = start - self._buffer_start
        data = self._buffer[offset : offset + end - start]
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def _fill(self, start: int, wanted: int) -> None:
        sequential = start == self._buffer_start + len(self._buffer) and self._buffer
        self._window = min(MAX_WINDOW, self._window * 2) if sequential else FIRST_WINDOW
        length = max(wanted, self._window)
        if self._known is not None:
            length = min(length, self._known - start)
        self._buffer, self._known = self._fetch(start, length)
        self._buffer_start = start
