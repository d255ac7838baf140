"""De-identify many files on several cores; one result per file, in the order of the input."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from emr_core.deid.result import DeidResult

if TYPE_CHECKING:
    from emr_core.deid.deidentifier import Deidentifier

_worker: Deidentifier | None = None
_worker_out: Path | None = None


def find_files(sources: Iterable[Path], skip: Path | None = None) -> list[Path]:
    """Every regular file under the sources (recursively), sorted, leaving out anything under `skip`."""
    skip_root = skip.resolve() if skip else None
    found: list[Path] = []
    for source in sources:
        candidates = [source] if source.is_file() else (p for p in source.rglob("*") if p.is_file())
        for path in candidates:
            if skip_root is None or not path.resolve().is_relative_to(skip_root):
                found.append(path)
    return sorted(set(found))


def _init(secret: bytes, out_root: str) -> None:
    # Imported here, in the worker: pydicom and dicognito load in every worker at once.
    from emr_core.deid.deidentifier import Deidentifier

    global _worker, _worker_out
    _worker, _worker_out = Deidentifier(secret), Path(out_root)


def _one(path: Path) -> DeidResult:
    assert _worker is not None and _worker_out is not None
    return _worker.deidentify_file(path, _worker_out)


class DeidWorkers:
    """Processes that de-identify into one folder, started when created: while they load the DICOM
    stack, the caller can do its own start-up (the command line checks the database it audits to)."""

    def __init__(self, secret: bytes, out_root: Path, workers: int = 1) -> None:
        self._args = (secret, str(out_root))
        self._pool: ProcessPoolExecutor | None = None
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        if self.workers == 1:
            return
        # Objects alive now are shared copy-on-write with the forked workers; kept out of their garbage
        # collections, the workers do not copy the parent's heap page by page.
        gc.freeze()
        try:
            self._pool = ProcessPoolExecutor(self.workers, initializer=_init, initargs=self._args)
            # The first task forks every worker at once (fork start method); not waited for.
            self._pool.submit(int)
        finally:
            gc.unfreeze()

    def run(self, paths: Sequence[Path], progress: Callable[[DeidResult], None] | None = None) -> Iterator[DeidResult]:
        """Yield a result per file, in the order of `paths`."""
        if self._pool is None:
            _init(*self._args)
            yield from _reported(map(_one, paths), progress)
            return
        # Chunks keep the inter-process overhead per file small; the file bytes never cross processes.
        chunks = max(1, min(16, len(paths) // (self.workers * 4)))
        yield from _reported(self._pool.map(_one, paths, chunksize=chunks), progress)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> DeidWorkers:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def deidentify_files(
    paths: Sequence[Path],
    out_root: Path,
    secret: bytes,
    workers: int = 1,
    progress: Callable[[DeidResult], None] | None = None,
) -> Iterator[DeidResult]:
    """Yield a result per file; workers > 1 spreads files over processes."""
    with DeidWorkers(secret, out_root, min(workers, len(paths) or 1)) as pool:
        yield from pool.run(paths, progress)


def _reported(results: Iterable[DeidResult], progress: Callable[[DeidResult], None] | None) -> Iterator[DeidResult]:
    for result in results:
        if progress is not None:
            progress(result)
        yield result
