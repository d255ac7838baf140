"""Objects as files in a folder: temp file, fsync, link into place, fsync the folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from emr_core.objectstore.base import ObjectMissingError, StoredObject, check_key
from emr_core.objectstore.files import hash_file, store_file


class LocalObjectStore:
    """A folder; locations are relative to the data folder when inside it (today's stored_path)."""

    def __init__(self, folder: Path, data_root: Path) -> None:
        self.folder, self.data_root = folder, data_root
        self.url = folder.as_uri() if folder.is_absolute() else str(folder)

    def path(self, key: str) -> Path:
        # Keys of rows read back may be absolute paths (rows written outside the data folder).
        return self.folder / key

    def location(self, key: str) -> str:
        path = self.path(key)
        try:
            return path.relative_to(self.data_root).as_posix()
        except ValueError:
            return str(path)

    def put_file(self, key: str, source: str | Path, overwrite: bool = False) -> StoredObject:
        target = self.path(check_key(key))
        if not overwrite and target.exists():
            # Already stored: hash only, so that a re-ingest never rewrites (or copies) the file.
            sha256, size = hash_file(source)
            return StoredObject(key, self.location(key), sha256, size, created=False)
        stored = store_file(source, target, overwrite)
        return StoredObject(key, self.location(key), stored.sha256, stored.size, stored.created)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise ObjectMissingError(f"no stored object {self.path(key)}") from None

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self.open(key) as fp:
            fp.seek(start)
            return fp.read(length)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectMissingError(f"no stored object {self.path(key)}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def sha256(self, key: str) -> str:
        return hash_file(self.path(key))[0]

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """The file itself: nothing to copy or clean."""
        path = self.path(key)
        if not path.is_file():
            raise ObjectMissingError(f"no stored object {path}")
        yield path
