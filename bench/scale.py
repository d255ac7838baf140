"""The seed hospital times --scale against MariaDB: import, index, link, quality gates, HTTP latency, one nightly run.

    python bench/scale.py [--scale 50] [--keep DIR] [--increment 1000] [--workers 2] [--batch 200]
                          [--server mysql+pymysql://root@127.0.0.1:3306 | sqlite] [--work DIR]

x1 is the seed's hospital: 18,000 mammograms (four per exam, 30% of women with a prior exam) and 10,000
patients; x50 is 900,000 instances and 500,000 patients. Small pixel matrices (64x80), real headers.
Stages, each with wall time, rows per second, the load average and the peak memory of every process
(this one and its pool workers, the forkserver, the API server):
generate the corpora (reused from --keep DIR; in a process of their own), import the registry, index patient
names for search, ingest (header indexing and managed storage), link, the linking gate, a data steward working
the review queue (as the blocking linking gate requires within SGM_LINK_REVIEW_MAX_DAYS); then the database
size (information_schema), patient search and chart (patient page) p95 over HTTP on a real `sgm api serve`;
then one day of new exams (--increment) as the nightly run does it (registry rows of the day, ingest, link,
gates on the new studies) on this archive and on an empty one, and their ratio; last, the archive's images
gate. --json holds the stages so far after each one. Each run creates its own databases and drops them at
the end; corpora live under --keep or /tmp.

Targets (issue 13): x50 indexed and linked in under 2 hours with every process under 2 GB; the nightly
increment under 2 minutes and within 2x of the empty-archive increment; search p95 < 100 ms and chart
p95 < 200 ms at 500,000 patients.

Measured on this 2-core machine against MariaDB at its default 128 MB buffer pool; wall seconds and rows/s.
x0.1 and x1 at a load of 3-6 and x5 at 2-3 (2026-12-02, the code before the nightly and search changes);
x50 on 2026-12-03 at a load of 1-3 (the linker, MariaDB and the corpus' own images gate), with the code of
ed7056f for the archive stages and of ac23372 (search cap) for the HTTP, nightly and images-gate stages:

    stage               x0.1 (1,800)     x1 (18,004)      x5 (90,012)       x50 (900,120 images)
    import registry      0.2  4,950/s     2.1  4,735/s     15.1  3,270/s       92.0   5,380/s
    search index         0.3  3,000/s     0.7 14,994/s      6.1  8,085/s       55.7   8,887/s
    ingest              10.5    172/s    55.1    327/s    134.9    667/s    1,219.3     738/s
    link                 0.5    957/s     5.0    900/s     53.2    423/s      459.8     489/s (10,071 to review)
    indexed and linked  11.5             62.8             209.4             1,826.8 s = 30 min (target 2 h)
    linking gate / steward                                                    3.9 s / 94.6 s (10,071 decisions)
    images gate          4.1    437/s    25.7    701/s    163.3    551/s    1,608.5     562/s (4,440 failing)
    database size        5.2 MiB         39.8 MiB         170.6 MiB         1,477.8 MiB
    search p95 / chart  28 / 20 ms       50 / 12 ms       108 / 38 ms        69 / 10 ms (targets 100 / 200)
    nightly, 1,000      21.4 / 19.2 s    15.8 / 13.8 s    36.2 / 24.6 s     13.1 / 9.6 s (archive / empty EMR)
      ratio              1.11             1.14             1.47              1.36 (target 2)

The x50 run of 2026-12-02 (load about 3) before the blocking, pending-study and search changes: link
1,743.6 s (129/s, the same 214,959 links and 10,071 reviews), indexed and linked 53 min, search p95 196 ms,
chart 46 ms, nightly 42.5 s against 16.2 s (2.62). What changed: the linker reads a name-key block as
(patient, birth date) pairs and loads only namesakes whose birth date may agree (the night's blocks held
~110,000 patients), and finds pending studies through studies.patient_id (2.8 s of scanning every study);
search looks at 250 matching patients instead of 2,000 before it says truncated.
x50 search p95 by kind: full name 99 ms (no diacritics) and 129 ms (with; max 252), family + given 52 ms,
common words only 22 ms, given name prefix + birth date 16 ms, identifier 11 ms. x50 nightly on the
archive: import 0.5 s, ingest 6.6 s (5.3 s on the empty EMR), link 2.9 s (0.5 s), gates 3.0 s (3.2 s).
The x50 images gate ran at a load of 4-5 (a CI run beside it). Its failing rows come from the corpus'
deliberate header quirks: on the nightly corpus, 8 images whose side no field the indexer reads states
(ImageLaterality left out on purpose) and the same 8 failing "all four views" in their 2 exams.
The night's name-key read (0.44 s) scans the patients table: the keys' blocks hold a fifth of it, so
MariaDB prefers the scan; a (name_key, birth_date) index would make it index-only.
Peak memory at x50, every process: 1,072 MiB (the linker's whole-archive index), import 708 MiB, ingest
638 MiB and its pool workers 226 MiB, the API server under 851 MiB; the corpus generator (test data, its own
process) is left out.
Run x5 first to check a change (~15 min with corpora reused), then x50 (~1 h 20 min, ~12 GB of corpus and
~12 GB of managed storage; writing the corpus takes ~23 min once, --keep reuses it):
    python bench/scale.py --scale 5 --keep /data/sgm-scale
    python bench/scale.py --scale 50 --keep /data/sgm-scale --work /data/sgm-scale-work --json x50.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench modules, also when imported
from scale_http import api_server, chart_latency, charted_patients, sample_people, search_latency
from scale_memory import MemoryWatch
from scale_sql import report_lines, timed_statements
from scale_stages import (
    Emr,
    Stages,
    archive_options,
    database_mib,
    import_stage,
    increment_options,
    ingest_stage,
    link_stage,
    load_average,
    make_corpus,
    own_database,
    quality_images_stage,
    quality_linking_stage,
    say,
    search_index_stage,
    steward_stage,
    study_ids,
)

MARIADB = "mysql+pymysql://root@127.0.0.1:3306"
INDEXED_AND_LINKED = ("import registry", "search index", "ingest", "link")
TARGETS = {"index_link_s": 7200.0, "memory_mib": 2048.0, "nightly_s": 120.0, "ratio": 2.0, "search": 100, "chart": 200}


def archive_stages(stages: Stages, emr: Emr, corpus: Path, images: int) -> None:
    """What the archive goes through once: registry, names, ingest, link, the linking gate, the steward.
    Its images gate runs last (see run): the longest stage, it decides none of the other figures."""
    stages.run("import registry", "rows", lambda: import_stage(emr, corpus))
    stages.run("search index", "patients", lambda: search_index_stage(emr))
    stages.run("ingest", "instances", lambda: ingest_stage(emr, corpus, images)[0])
    stages.run("link", "studies", lambda: link_stage(emr))
    stages.run("quality linking", "waiting", lambda: quality_linking_stage(emr))
    stages.run("steward works queue", "studies", lambda: steward_stage(emr))


def nightly_stages(stages: Stages, emr: Emr, corpus: Path, images: int) -> float:
    """One day of new exams, as the nightly run handles them; returns its total seconds."""
    new: list[str] = []

    def ingest() -> int:
        stored, uids = ingest_stage(emr, corpus, images)
        new.extend(uids)
        return stored

    first = len(stages.done)
    stages.run("nightly import", "rows", lambda: import_stage(emr, corpus))
    stages.run("nightly search index", "patients", lambda: search_index_stage(emr))
    stages.run("nightly ingest", "instances", ingest)
    stages.run("nightly link", "studies", lambda: link_stage(emr))
    stages.run(
        "nightly images gate",
        "instances",
        lambda: quality_images_stage(emr, study_ids(emr, new)),
    )
    stages.run("nightly linking gate", "waiting", lambda: quality_linking_stage(emr))
    return round(sum(s.seconds for s in stages.done[first:]), 2)


def http_figures(emr: Emr, count: int) -> dict[str, Any]:
    """Search and chart latency over HTTP (one client, requests one after another)."""
    people, charts = sample_people(emr, max(count, 50)), charted_patients(emr, max(count, 50))
    say(f"HTTP: {count} searches and {count} charts against sgm api serve")
    with api_server(emr) as client:
        search, kinds = search_latency(client, people, count)
        chart = chart_latency(client, charts, count)
    say(f"  search {search}; chart {chart}")
    by_kind = {kind: asdict(latency) for kind, latency in kinds.items()}
    return {"search": asdict(search), "search_by_kind": by_kind, "chart": asdict(chart), "load": load_average()}


def _corpora(args: argparse.Namespace, stages: Stages, root: Path) -> tuple[Path, int, Path, int]:
    """(archive folder, its images, increment folder, its images), generated or reused."""
    archive_opts = archive_options(args.scale, args.seed, args.workers)
    increment_opts = increment_options(args.increment, args.seed, args.workers)
    archive_dir = root / f"archive-x{args.scale:g}-seed{args.seed}"
    increment_dir = root / f"increment-{args.increment}-seed{args.seed}"
    found: dict[str, int] = {}
    for name, folder, opts in (("archive", archive_dir, archive_opts), ("increment", increment_dir, increment_opts)):

        def generate(folder: Path = folder, opts: Any = opts, name: str = name) -> int:
            found[name] = make_corpus(folder, opts).images
            return found[name]

        stages.run(f"generate {name}", "images", generate)
    return archive_dir, found["archive"], increment_dir, found["increment"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole measurement; returns the report (also printed by main)."""
    corpora_root = args.keep or Path(tempfile.mkdtemp(prefix="sgm-scale-corpus-"))
    work = Path(tempfile.mkdtemp(prefix="sgm-scale-work-", dir=args.work))
    report: dict[str, Any] = {"scale": args.scale, "server": args.server.split(":")[0], "load_start": load_average()}
    try:
        with MemoryWatch() as watch:
            stages = Stages(watch, after_each=lambda done: _save_partial(args.json, report, done))
            archive, images, increment, new_images = _corpora(args, stages, corpora_root)
            with own_database(args.server, work, "archive") as engine:
                emr = Emr.of(engine, work / "archive", args.workers, args.batch)
                with timed_statements(engine) as statements:
                    archive_stages(stages, emr, archive, images)
                report["sql_archive"] = report_lines(engine, statements)
                report["database_mib"] = database_mib(engine)
                report["http"] = http_figures(emr, args.queries)
                with timed_statements(engine) as statements:
                    report["nightly_s"] = nightly_stages(stages, emr, increment, new_images)
                report["sql_nightly"] = report_lines(engine, statements)
                report["database_mib_after_nightly"] = database_mib(engine)
                with own_database(args.server, work, "empty") as empty:
                    other = Emr.of(empty, work / "empty", args.workers, args.batch)
                    report["nightly_empty_s"] = nightly_stages(stages, other, increment, new_images)
                stages.run("quality images", "instances", lambda: quality_images_stage(emr))
        report["images"], report["new_images"] = images, new_images
        report["stages"] = [{**asdict(s), "rate": round(s.rate, 1)} for s in stages.done]
        report["load_end"] = load_average()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(corpora_root, ignore_errors=True)
    return summarise(report)


def _save_partial(path: Path | None, report: dict[str, Any], done: list[Any]) -> None:
    """The figures so far, so that a run stopped part way (x50 takes hours) still leaves them."""
    if path is not None:
        partial = {**report, "partial": True, "stages": [{**asdict(s), "rate": round(s.rate, 1)} for s in done]}
        path.write_text(json.dumps(partial, indent=2, default=str) + "\n", encoding="utf-8")


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Add the totals the targets are about."""
    stages = report["stages"]
    report["index_link_s"] = round(sum(s["seconds"] for s in stages if s["name"] in INDEXED_AND_LINKED), 1)
    # The target is the platform's processes: the corpus generator (test data, planned in memory) is left out.
    measured = [s for s in stages if not s["name"].startswith("generate")]
    report["memory_peak_mib"] = max(max(s["memory_mib"].values(), default=0.0) for s in measured)
    report["nightly_ratio"] = round(report["nightly_s"] / max(report["nightly_empty_s"], 1e-9), 2)
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"x{report['scale']:g} on {report['server']}: {report['images']:,} images; load {report['load_start']}")
    print(f"{'stage':<22} {'wall':>11} {'rows':>9} {'':<10} {'rate':>11}")
    for s in report["stages"]:
        peak = max(s["memory_mib"].values(), default=0.0)
        print(
            f"{s['name']:<22} {s['seconds']:9.1f} s {s['rows']:>9,} {s['unit']:<10} {s['rate']:9,.0f}/s"
            f"  peak {peak:7.1f} MiB  load {s['load']}"
        )
        print("    memory MiB: " + ", ".join(f"{k} {v}" for k, v in s["memory_mib"].items()))
    http, t = report["http"], TARGETS
    search, chart = http["search"], http["chart"]
    after = report["database_mib_after_nightly"]
    print(f"database size           {report['database_mib']:,.1f} MiB (after the nightly run {after:,.1f})")
    print(f"search over HTTP        p50 {search['p50']} ms  p95 {search['p95']} ms  (target < {t['search']})")
    print(f"chart over HTTP         p50 {chart['p50']} ms  p95 {chart['p95']} ms  (target < {t['chart']})")
    for kind, latency in http["search_by_kind"].items():
        print(f"  search {kind:<30} p50 {latency['p50']} ms  p95 {latency['p95']} ms")
    print(f"  (HTTP measured at load {http['load']})")
    print(f"indexed and linked      {report['index_link_s']:,.1f} s  (target x50 < {t['index_link_s']:.0f} s)")
    peak = report["memory_peak_mib"]
    print(f"peak memory, any process {peak:,.1f} MiB  (target < {t['memory_mib']:.0f}; the generator aside)")
    nightly, empty, ratio = report["nightly_s"], report["nightly_empty_s"], report["nightly_ratio"]
    print(f"nightly increment       {nightly:.1f} s on the archive, {empty:.1f} s on an empty one: ratio {ratio:.2f}")
    print(f"  (targets < {t['nightly_s']:.0f} s, < {t['ratio']:g}x)")
    for label, key in (("archive", "sql_archive"), ("nightly run on the archive", "sql_nightly")):
        print(f"statements with the most database time, {label} (this process):")
        print("\n".join(report[key]))
    print(f"load average at the end {report['load_end']}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=50.0, help="times the seed hospital (default 50)")
    parser.add_argument("--keep", type=Path, help="keep and reuse the generated corpora in this folder")
    parser.add_argument("--work", type=Path, help="folder for the data folders (managed storage); default /tmp")
    parser.add_argument("--increment", type=int, default=1000, help="new exams of the nightly run")
    parser.add_argument("--server", default=MARIADB, help='MariaDB server URL (no database), or "sqlite"')
    parser.add_argument("--workers", type=int, default=2, help="processes writing the corpus and reading headers")
    parser.add_argument("--batch", type=int, default=200, help="ingest rows per database transaction")
    parser.add_argument("--queries", type=int, default=300, help="searches and charts timed over HTTP")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the report here (and the stages so far after each one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
