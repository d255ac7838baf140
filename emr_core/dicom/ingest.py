"""Public entry point: ingest DICOM files and folders into managed storage and the index."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Literal, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import record_event
from emr_core.db import session_scope
from emr_core.dicom.header import HeaderError, InstanceHeader, meta_mismatch, read_header
from emr_core.dicom.index import BatchOutcome, FileResult, apply_batch
from emr_core.dicom.ingest_audit import IngestAudit, batch_record
from emr_core.dicom.quarantine import Quarantined, quarantine_file
from emr_core.dicom.storage import TEMP_PREFIX, instance_key
from emr_core.enums import QuarantineReason
from emr_core.objectstore import ObjectStore, object_store
from emr_core.processes import process_pool
from emr_core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did; non_mammography counts valid DICOM files that are not mammograms."""

    files_seen: int = 0
    stored: int = 0
    unchanged: int = 0
    conflicts: int = 0
    quarantined: int = 0
    non_mammography: int = 0
    failed: int = 0
    new_study_uids: tuple[str, ...] = ()
    quarantined_files: tuple[Quarantined, ...] = ()

    def summary(self) -> str:
        return (
            f"{self.files_seen} files: {self.stored} stored, {self.unchanged} unchanged, "
            f"{self.conflicts} conflicts, {self.quarantined} quarantined, {self.failed} failed; "
            f"{self.non_mammography} not mammography; {len(self.new_study_uids)} new studies"
        )


def collect_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files named, and every file under folders named (recursively), in sorted order."""
    found: list[str] = []
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            found.extend(_walk(path))
        elif os.path.exists(path):
            found.append(path)
        else:
            log.warning("no such file or folder: %s", path)
    return list(dict.fromkeys(found))  # a file named twice is ingested once


def _walk(folder: str) -> Iterator[str]:
    # os.scandir is several times faster than pathlib.rglob on large trees.
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif entry.is_file() and not entry.name.startswith(TEMP_PREFIX):
                yield entry.path


def index_headers(
    paths: Iterable[str | os.PathLike[str]], workers: int = 2, chunksize: int | None = None
) -> Iterator[InstanceHeader | HeaderError]:
    """Read the header of every file (in order) with `workers` processes; nothing is stored."""
    files = [os.fspath(p) for p in paths]
    if chunksize is None:
        # Headers take ~0.15 ms: chunks amortise the pool's per-task cost; four per worker
        # at least keep both workers busy to the end.
        chunksize = max(1, min(64, -(-len(files) // (4 * workers))))
    with _mapper(workers) as run:
        yield from run(read_header, files, chunksize)


def process_file(path: str, store: ObjectStore, quarantine_dir: Path) -> FileResult:
    """Worker: read the header, then store the object (or quarantine the file); no database access."""
    try:
        header = read_header(path)  # content problems come back as a HeaderError, never raised
        if isinstance(header, HeaderError):
            kept = quarantine_file(path, quarantine_dir, header.reason, header.detail)
            return FileResult(path, quarantined=kept)
        contradiction = meta_mismatch(header)
        if contradiction is not None:  # indexed by either UID, the file would lie about the other
            kept = quarantine_file(path, quarantine_dir, QuarantineReason.META_MISMATCH, contradiction)
            return FileResult(path, quarantined=kept)
        key = instance_key(header.study_uid, header.series_uid, header.sop_instance_uid)
        # Without overwrite an object already stored is never rewritten: created=False and the
        # hash of this source, which indexing compares with the stored one.
        return FileResult(path, header=header, stored=store.put_file(key, path))
    except Exception as exc:
        return FileResult(path, error=f"{type(exc).__name__}: {exc}")


def ingest_paths(
    session_factory: sessionmaker[Session],
    settings: Settings,
    paths: Iterable[str | os.PathLike[str]],
    progress: Progress | None = None,
    move: bool = False,
    audit: IngestAudit | Literal[False] | None = None,
) -> IngestReport:
    """Ingest files and folders; headers and copies run in settings.ingest_workers processes.

    Each batch is audited (Import) in its own transaction, by the actor `audit` names ("local" when
    None); audit=False is for callers that audit every file themselves (the DICOM receiver).
    """
    paths = list(paths)
    if audit is None:
        audit = IngestAudit.of("local", paths)
    files = collect_files(paths)
    store = object_store(settings)
    # An unreachable store fails the run here, in one line, rather than every file one by one.
    store.exists(".sgm-probe")
    worker = partial(process_file, store=store, quarantine_dir=settings.quarantine_dir)
    tally = _Tally(files_seen=len(files))
    workers = settings.ingest_workers if len(files) > 1 else 1  # no pool for a single file
    with _mapper(workers) as run:
        results = run(worker, files, _chunksize(len(files), workers))
        for number, batch in enumerate(_batched(results, settings.ingest_batch_size), start=1):
            outcome = _apply(session_factory, settings, store, batch, (audit, number) if audit else None)
            if move:
                _remove_sources(outcome.safe_sources, settings)
            tally.add(batch, outcome)
            if progress is not None:
                progress(len(batch))
    report = tally.report()
    log.info("ingest: %s", report.summary())
    return report


def ingest_file(
    session_factory: sessionmaker[Session],
    settings: Settings,
    path: str | os.PathLike[str],
    move: bool = False,
    audit: IngestAudit | Literal[False] | None = None,
) -> IngestReport:
    """Ingest one file in this process (no worker pool)."""
    one = settings.model_copy(update={"ingest_workers": 1})
    return ingest_paths(session_factory, one, [path], move=move, audit=audit)


def _apply(
    session_factory: sessionmaker[Session],
    settings: Settings,
    store: ObjectStore,
    batch: list[FileResult],
    audit: tuple[IngestAudit, int] | None,
) -> BatchOutcome:
    """Index a batch; retried once if a concurrent writer (the receiver) inserted the same rows."""
    for attempt in (1, 2):
        try:
            with session_scope(session_factory) as session:
                outcome = apply_batch(session, batch, settings.root, settings.conflicts_dir, store)
                if audit is not None:
                    record_event(session, batch_record(audit[0], audit[1], batch, outcome))
                return outcome
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("batch raced with another writer; retrying")
    raise AssertionError("unreachable")


def _remove_sources(sources: list[str], settings: Settings) -> None:
    """--move: delete sources now safely stored; never a file inside the data folder itself."""
    managed = tuple(str(d) + os.sep for d in (settings.storage_dir, settings.quarantine_dir, settings.conflicts_dir))
    for source in sources:
        if os.path.realpath(source).startswith(managed):
            continue
        with suppress(FileNotFoundError):
            os.unlink(source)


@dataclass
class _Tally:
    files_seen: int
    counts: Counter[str] = field(default_factory=Counter)
    new_study_uids: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def add(self, batch: list[FileResult], outcome: BatchOutcome) -> None:
        self.counts.update(outcome.counts)
        self.new_study_uids.extend(outcome.new_study_uids)
        for result in batch:
            if result.quarantined:
                q = result.quarantined
                self.quarantined.append(q)
                log.warning("quarantined %s (%s: %s) as %s", q.source_path, q.reason, q.detail, q.path)
            elif result.error:
                log.error("could not ingest %s: %s (left in place)", result.source, result.error)

    def report(self) -> IngestReport:
        c = self.counts
        return IngestReport(
            files_seen=self.files_seen,
            stored=c["stored"],
            unchanged=c["unchanged"],
            conflicts=c["conflicts"],
            quarantined=c["quarantined"],
            non_mammography=c["non_mammography"],
            failed=c["failed"],
            new_study_uids=tuple(self.new_study_uids),
            quarantined_files=tuple(self.quarantined),
        )


@contextmanager
def _mapper(workers: int) -> Iterator[Callable[[Callable[[T], R], list[T], int], Iterator[R]]]:
    """An ordered lazy map: in this process for one worker, else over a process pool."""
    if workers <= 1:
        yield lambda fn, items, _chunksize: map(fn, items)
        return
    with process_pool(workers, preload=[__name__]) as pool:
        yield lambda fn, items, chunksize: pool.map(fn, items, chunksize=chunksize)


def _chunksize(n_files: int, workers: int) -> int:
    # Copies take milliseconds each: small chunks keep workers balanced and progress smooth.
    return max(1, min(16, n_files // (workers * 8) or 1))


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
