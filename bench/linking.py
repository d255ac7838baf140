"""Benchmark patient linking on a synthetic corpus: time, peak memory, precision, recall, merges.

    python bench/linking.py [--out DIR] [--patients 3500] [--registry-extra 6605] [--seed 11]
                            [--database-url URL]

The corpus (registry.csv, DICOM files, ground truth) is generated once and reused. Studies
are indexed from one DICOM header per study, as ingest would, then linked in one run.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.header import InstanceHeader, read_header
from emr_core.enums import LedgerStage
from emr_core.linking import import_registry, link_studies
from emr_core.linking.evaluation import measure_quality
from emr_core.migrate import upgrade
from emr_core.models import LedgerEntry, Study
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def study_headers(out: Path) -> list[InstanceHeader]:
    """The header of the first image of each study (all four carry the same identity)."""
    first: dict[str, str] = {}
    for row in _read_csv(out / "ground_truth" / "images.csv"):
        first.setdefault(row["study_uid"], row["path"])
    headers = [read_header(out / path) for path in first.values()]
    good = [h for h in headers if isinstance(h, InstanceHeader)]
    if len(good) < len(headers):
        bad = [h for h in headers if not isinstance(h, InstanceHeader)]
        raise RuntimeError(f"{len(bad)} unreadable corpus headers, e.g. {bad[0]}")
    return good


def load_studies(factory: sessionmaker[Session], headers: list[InstanceHeader]) -> None:
    """Insert Study rows and their `received` ledger stage, as DICOM ingest does."""
    with session_scope(factory) as session:
        studies = [
            Study(
                study_uid=h.study_uid,
                accession_number=h.accession_number,
                study_date=h.study_date,
                description=h.study_description,
                dicom_patient_id=h.patient_id,
                dicom_issuer=h.issuer_of_patient_id,
                dicom_patient_name=h.patient_name,
                dicom_birth_date=h.patient_birth_date,
                dicom_sex=h.patient_sex,
            )
            for h in headers
        ]
        session.add_all(studies)
        session.flush()
        session.add_all(LedgerEntry(study_id=s.id, stage=LedgerStage.RECEIVED.value) for s in studies)


def run(out: Path, options: CorpusOptions, database_url: str | None) -> dict[str, float]:
    """Generate (or reuse) the corpus, import the registry, link, and measure."""
    summary = generate_corpus(out, options)
    workdir = Path(tempfile.mkdtemp(prefix="sgm-bench-link-"))
    engine = make_engine(database_url or f"sqlite:///{workdir / 'emr.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with session_scope(factory) as session:
        registry = import_registry(session, out / "registry.csv")
    import_seconds = time.perf_counter() - started
    load_studies(factory, study_headers(out))
    tracemalloc.start()
    report = link_studies(factory, progress=sys.stderr.isatty())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with session_scope(factory) as session:
        quality = measure_quality(session, out)
    again = link_studies(factory)
    return {
        "images": summary.images,
        "studies": summary.studies,
        "registry_rows": registry.created,
        "import_s": round(import_seconds, 2),
        "link_s": report.seconds,
        "link_peak_traced_mb": round(peak / 2**20, 1),
        "process_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "auto_links": quality.auto_links,
        "precision": round(quality.precision, 4),
        "recall": round(quality.recall, 4),
        "merges": quality.merges,
        "review_queue": quality.review_queue,
        "provisional_links": quality.provisional_links,
        "provisional_patients": report.provisional_patients,
        "rerun_changed": again.examined - again.unchanged,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=None, help="corpus folder (default: a temp folder named by the options)"
    )
    parser.add_argument("--patients", type=int, default=3500)
    # ~3% of persons are not in the registry: 3,395 registered + 6,605 extra = 10,000 rows.
    parser.add_argument("--registry-extra", type=int, default=6605)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=2, help="processes writing the corpus images")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    args = parser.parse_args(argv)
    options = CorpusOptions(
        patients=args.patients,
        registry_extra=args.registry_extra,
        columns=64,
        rows=80,
        seed=args.seed,
        workers=args.workers,
    )
    out = args.out or Path(tempfile.gettempdir()) / (
        f"sgm-bench-linking-{args.patients}-{args.registry_extra}-{args.seed}"
    )
    figures = run(out, options, args.database_url)
    for key, value in figures.items():
        print(f"{key:<22} {value}")
    ok = (
        figures["precision"] >= 0.99
        and figures["recall"] >= 0.97
        and figures["merges"] == 0
        and figures["link_s"] < 30
        and figures["rerun_changed"] == 0
    )
    print("PASS" if ok else "FAIL: targets are precision >= 0.99, recall >= 0.97, 0 merges, < 30 s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
