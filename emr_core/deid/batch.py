"""De-identify many files on several cores; one result per file, in the order of the input."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from emr_core.deid.deidentifier import Deidentifier, DeidResult

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
    global _worker, _worker_out
    _worker, _worker_out = Deidentifier(secret), Path(out_root)


def _one(path: Path) -> DeidResult:
    assert _worker is not None and _worker_out is not None
    return _worker.deidentify_file(path, _worker_out)


def deidentify_files(
    paths: Sequence[Path],
    out_root: Path,
    secret: bytes,
    workers: int = 1,
    progress: Callable[[DeidResult], None] | None = None,
) -> Iterator[DeidResult]:
    """Yield a result per file; workers > 1 spreads files over processes."""
    workers = max(1, min(workers, len(paths) or 1, os.cpu_count() or 1))
    if workers == 1:
        _init(secret, str(out_root))
        results: Iterable[DeidResult] = map(_one, paths)
        yield from _reported(results, progress)
        return
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(secret, str(out_root))) as pool:
        # Chunks keep the inter-process overhead per file small; the file bytes never cross processes.
        yield from _reported(pool.map(_one, paths, chunksize=max(1, min(16, len(paths) // (workers * 4)))), progress)


def _reported(results: Iterable[DeidResult], progress: Callable[[DeidResult], None] | None) -> Iterator[DeidResult]:
    for result in results:
        if progress is not None:
            progress(result)
        yield result
