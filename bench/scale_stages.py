"""The stages of bench/scale.py: corpora, a database of its own, import, ingest, link, quality gates, size."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import scratch_db
from scale_memory import MemoryWatch, reset_own_peak, rusage_mib
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.search import index_new_patients
from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking import decide, import_registry, link_studies, review_queue
from emr_core.migrate import upgrade
from emr_core.models import Study
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, CorpusSummary, generate_corpus
from quality.frames import Scope
from quality.gates import check_images, check_linking

# The seed's hospital at x1: 3,462 screened persons, 30% with a prior exam, four images per exam
# (3,462 x 1.3 x 4 = 18,002 images), ~3% of them missing from the registry (they become provisional
# patients), and registry-only persons so that the EMR holds 10,000 patients in all.
SEED_SCREENED = 3462
SEED_REGISTRY_EXTRA = 6538
PRIOR_FRACTION = 0.3
# Small pixel matrices keep the corpus on disk small (about 13 KB a file); headers are full size.
MATRIX = (64, 80)
# Studies per images-gate frame over the archive: about 8,000 instances (see quality_images_stage).
GATE_STUDIES = 2000


@dataclass
class StageFigures:
    """What one stage cost: wall time, rows handled, load average and peak memory per process."""

    name: str
    seconds: float
    rows: int
    unit: str
    load: str
    memory_mib: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        peak = max(self.memory_mib.values(), default=0.0)
        return (
            f"{self.name:<22} {self.seconds:9.1f} s {self.rows:>9,} {self.unit:<10} {self.rate:9,.0f}/s"
            f"  peak {peak:7.1f} MiB  load {self.load}"
        )


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def say(message: str) -> None:
    """A progress line, with the time and the machine's load (other engineers share it)."""
    print(f"[{time.strftime('%H:%M:%S')} load {load_average()}] {message}", file=sys.stderr, flush=True)


@dataclass
class Stages:
    """Runs stages one after another and keeps their figures (`after_each` sees them as each one ends)."""

    watch: MemoryWatch
    done: list[StageFigures] = field(default_factory=list)
    after_each: Callable[[list[StageFigures]], None] | None = None

    def run(self, name: str, unit: str, work: Callable[[], int]) -> StageFigures:
        """Run `work` (which returns how many rows it handled) and record its figures."""
        say(f"{name}: started")
        self.watch.take()  # forget peaks of processes that belonged to earlier stages
        reset_own_peak()
        started = time.perf_counter()
        rows = work()
        seconds = time.perf_counter() - started
        memory = {**rusage_mib(), **self.watch.take()}
        figures = StageFigures(name, round(seconds, 2), rows, unit, load_average(), memory)
        self.done.append(figures)
        say(figures.line())
        if self.after_each is not None:
            self.after_each(self.done)
        return figures


def archive_options(scale: float, seed: int, workers: int) -> CorpusOptions:
    """The seed hospital times `scale`."""
    return CorpusOptions(
        patients=max(1, round(SEED_SCREENED * scale)),
        registry_extra=round(SEED_REGISTRY_EXTRA * scale),
        prior_fraction=PRIOR_FRACTION,
        columns=MATRIX[0],
        rows=MATRIX[1],
        seed=seed,
        workers=workers,
    )


def increment_options(studies: int, seed: int, workers: int) -> CorpusOptions:
    """One day of new exams: new persons, one exam each, with their registry rows (another seed: other UIDs)."""
    return CorpusOptions(
        patients=studies,
        prior_fraction=0.0,
        columns=MATRIX[0],
        rows=MATRIX[1],
        seed=seed + 1000,
        workers=workers,
    )


def make_corpus(out: Path, options: CorpusOptions) -> CorpusSummary:
    """Generate (or reuse) a corpus in a process of its own, printing a progress line every 10% of its images.

    Its own process: planning x50's 900,000 images holds ~2.5 GB, which would otherwise stay in this process
    and count as the platform's memory in every later stage."""
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_write_corpus, args=(out, options), name="corpus generator")
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"the corpus generator failed (exit code {child.exitcode})")
    return generate_corpus(out, options)  # written now: read back from its corpus.json


def _write_corpus(out: Path, options: CorpusOptions) -> None:
    expected = round(options.patients * (1 + options.prior_fraction)) * 4
    step, done = max(1, expected // 10), [0]

    def progress(n: int) -> None:
        before, done[0] = done[0], done[0] + n
        if before // step != done[0] // step:
            say(f"  corpus {out.name}: {done[0]:,} / ~{expected:,} images")

    generate_corpus(out, options, progress)


@contextmanager
def own_database(server: str, workdir: Path, label: str) -> Iterator[Engine]:
    """A migrated database of its own (MariaDB: created here, dropped at the end; "sqlite": a file)."""
    if server == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / f'{label}.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with scratch_db.own_database(server, f"sgm_scale_{label}") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


def database_mib(engine: Engine) -> float:
    """Data and index size of the EMR database (information_schema on MariaDB; pages on SQLite)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.execute(text("PRAGMA page_count")).scalar_one()
            size = conn.execute(text("PRAGMA page_size")).scalar_one()
            return round(pages * size / 2**20, 1)
        total = conn.execute(
            text(
                "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        ).scalar_one()
        return round(float(total or 0) / 2**20, 1)


@dataclass(frozen=True)
class Emr:
    """One EMR under test: its settings (data folder, database) and sessions."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def of(cls, engine: Engine, home: Path, workers: int, batch: int) -> Emr:
        url = engine.url.render_as_string(hide_password=False)
        settings = Settings(home=home, database_url=url, ingest_workers=workers, ingest_batch_size=batch)
        return cls(settings, engine, make_session_factory(engine, settings))


def import_stage(emr: Emr, corpus: Path) -> int:
    """Import the registry CSV; returns its rows."""
    with session_scope(emr.sessions) as session:
        report = import_registry(session, corpus / "registry.csv", actor="bench-scale")
    return report.rows


def search_index_stage(emr: Emr) -> int:
    """Index the names of new patients, as the API does before the first search."""
    with session_scope(emr.sessions) as session:
        return index_new_patients(session)


def ingest_stage(emr: Emr, corpus: Path, expected: int) -> tuple[int, list[str]]:
    """Ingest the corpus' DICOM folder; returns instances stored and the new study UIDs."""
    step, done = max(1, expected // 10), [0]

    def progress(n: int) -> None:
        before, done[0] = done[0], done[0] + n
        if before // step != done[0] // step:
            say(f"  ingest: {done[0]:,} / {expected:,} files")

    report = ingest_paths(emr.sessions, emr.settings, [corpus / "dicom"], progress=progress)
    if report.failed or report.stored + report.unchanged != expected:
        raise SystemExit(f"ingest did not index the corpus: {report.summary()}")
    return report.stored, list(report.new_study_uids)


def link_stage(emr: Emr) -> int:
    """Link every pending study; returns studies examined."""
    report = link_studies(emr.sessions)
    say(f"  linked {report.total_linked:,} of {report.examined:,}, {report.review} to review")
    return report.examined


def steward_stage(emr: Emr, batch: int = 500) -> int:
    """A data steward works the review queue, as the linking gate requires within SGM_LINK_REVIEW_MAX_DAYS:
    each queued study goes to the linker's best candidate, or to a new patient when it had none."""
    decided = 0
    while True:
        with session_scope(emr.sessions) as session:
            queued = review_queue(session, limit=batch)
            for item in queued:
                best = item.candidates[0]["patient_id"] if item.candidates else None
                decide(session, item.study_uid, best, "bench-steward")
        decided += len(queued)
        if len(queued) < batch:
            return decided


def study_ids(emr: Emr, uids: list[str]) -> list[int]:
    with session_scope(emr.sessions) as session:
        found: list[int] = []
        for start in range(0, len(uids), 1000):
            chunk = uids[start : start + 1000]
            found += session.scalars(select(Study.id).where(Study.study_uid.in_(chunk))).all()
        return found


def quality_images_stage(emr: Emr, ids: list[int] | None = None, chunk: int = GATE_STUDIES) -> int:
    """The images gate over these studies (all when None), `chunk` studies per frame; returns rows judged.

    The pipeline judges what one ingest run received, never the whole archive in one frame: a frame
    holds every instance's row and header fields, which at x50 would need several GB in one process.
    """
    if ids is None:
        with session_scope(emr.sessions) as session:
            ids = list(session.scalars(select(Study.id).order_by(Study.id)))
    rows = failing = 0
    for start in range(0, len(ids), chunk):
        with session_scope(emr.sessions) as session:
            result = check_images(session, emr.settings.root, Scope(study_ids=ids[start : start + chunk]))
        rows, failing = rows + result.rows, failing + result.failing_count
    say(f"  images gate: {rows:,} instances, {failing} failing")
    return rows


def quality_linking_stage(emr: Emr) -> int:
    """The linking gate (the studies waiting unlinked or for review, as the queue stands); returns them."""
    with session_scope(emr.sessions) as session:
        result = check_linking(session, float(emr.settings.link_review_max_days))
    say(f"  linking gate: {'passed' if result.success else 'FAILED'}, {result.failing_count} failing")
    return result.rows
