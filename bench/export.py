"""Benchmark de-identification: `sgm deidentify` against dicognito's own command line, same files, same run;
and (--dataset-exams N) a training dataset export and `sgm dataset pull` against a plain recursive copy.

    python bench/export.py [--images 40] [--columns 1664 --rows 2048] [--workers 2] [--rounds 3] [--corpus DIR]
    python bench/export.py --dataset-exams 25 [--columns 1664 --rows 2048] [--workers 2]

Two comparisons, same files, same number of processes, rounds alternating which goes first, medians:
1. command lines, start-up included: dicognito's (the files split into --workers shards run at once)
   against `sgm deidentify --workers N` (which also loads the application and writes the audit);
2. libraries in a process pool of --workers: dicognito's Anonymizer + read + write against our
   Deidentifier (dicognito + the E.1-1 profile + checks + markers): the per-file cost of the wrapper.
Target: ratio >= 0.9 (we do more than dicognito; the wrapper must cost almost nothing).
Besides wall-clock files/s it prints CPU milliseconds per file (user + sys of all processes): on a
machine shared with other work, wall time swings with the load; CPU per file does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from dicognito.anonymizer import Anonymizer
from pydicom import dcmread

from emr_core.deid import deidentify_files
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

VENV_BIN = Path(sys.executable).parent


def _corpus(args: argparse.Namespace) -> list[Path]:
    """The DICOM files: a given folder, or a synthetic MG corpus generated once under .bench/."""
    if args.corpus:
        return sorted(Path(args.corpus).rglob("*.dcm"))[: args.images]
    out = Path(".bench") / f"export-{args.columns}x{args.rows}-{args.images}"
    options = CorpusOptions(
        patients=max(1, args.images // 4), seed=7, columns=args.columns, rows=args.rows, prior_fraction=0.0, workers=2
    )
    generate_corpus(out, options)
    return sorted((out / "dicom").rglob("*.dcm"))[: args.images]


def _run_dicognito(files: list[Path], out: Path, workers: int) -> float:
    """dicognito's CLI, one process per shard, all at once; seconds of wall time."""
    shards = [files[i::workers] for i in range(workers)]
    # `python -m dicognito`: the `dicognito` console script of 0.19 calls main() without its argument.
    command = [sys.executable, "-m", "dicognito", "--quiet", "--seed", "bench", "--output-directory"]
    start = time.perf_counter()
    # A folder per shard: dicognito checks for its output folder, then creates it, so shards sharing one race.
    procs = [
        subprocess.Popen([*command, str(out / f"shard{i}"), *map(str, shard)])
        for i, shard in enumerate(shards)
        if shard
    ]
    if any(proc.wait() != 0 for proc in procs):
        raise SystemExit("dicognito failed")
    return time.perf_counter() - start


def _run_sgm(source: Path, out: Path, workers: int, env: dict[str, str]) -> float:
    """`sgm deidentify SOURCE OUT --workers N`; seconds of wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "sgm"), "deidentify", str(source), str(out), "--workers", str(workers)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sgm deidentify failed:\n{done.stdout}{done.stderr}")
    return elapsed


_anonymizers: list[Anonymizer] = []  # one per worker process


def _dicognito_init() -> None:
    _anonymizers.append(Anonymizer(seed="bench"))


def _dicognito_one(job: tuple[Path, Path]) -> None:
    """What dicognito's command line does per file: read, anonymize, save under the SOP Instance UID."""
    path, out = job
    with dcmread(path) as ds:
        _anonymizers[0].anonymize(ds)
        ds.save_as(out / f"{ds.SOPInstanceUID}.dcm")


def _library_dicognito(files: list[Path], out: Path, workers: int) -> float:
    out.mkdir(parents=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_dicognito_init) as pool:
        chunk = max(1, min(16, len(files) // (workers * 4)))
        list(pool.map(_dicognito_one, [(path, out) for path in files], chunksize=chunk))
    return time.perf_counter() - start


def _library_sgm(files: list[Path], out: Path, workers: int) -> float:
    start = time.perf_counter()
    results = list(deidentify_files(files, out, os.urandom(32), workers))
    elapsed = time.perf_counter() - start
    if not all(r.ok for r in results):
        raise SystemExit(f"de-identification refused files: {[r.reason for r in results if not r.ok][:3]}")
    return elapsed


def _stage(files: list[Path], work: Path) -> Path:
    """One folder holding exactly the benchmark files (hard links), for sgm's folder argument."""
    source = work / "in"
    for i, path in enumerate(files):
        target = source / f"{i:05d}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return source


Timings = dict[str, list[tuple[float, float]]]


def _cpu_seconds() -> float:
    """User + sys time of this process and of its children that have been waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(run: Callable[[Path], float], out: Path) -> tuple[float, float]:
    cpu = _cpu_seconds()
    wall = run(out)
    return wall, _cpu_seconds() - cpu


def _rounds(args: argparse.Namespace, files: list[Path], work: Path) -> Timings:
    env = {key: value for key, value in os.environ.items() if key != "SGM_DATABASE_URL"}
    env["SGM_HOME"] = str(work / "sgm")
    subprocess.run([str(VENV_BIN / "sgm"), "db", "upgrade"], env=env, check=True, capture_output=True)
    source = _stage(files, work)
    runs = {
        "cli-sgm": lambda out: _run_sgm(source, out, args.workers, env),
        "cli-dicognito": lambda out: _run_dicognito(files, out, args.workers),
        "lib-sgm": lambda out: _library_sgm(files, out, args.workers),
        "lib-dicognito": lambda out: _library_dicognito(files, out, args.workers),
    }
    timings: Timings = {name: [] for name in runs}
    for r in range(args.rounds):
        for name in list(runs) if r % 2 == 0 else list(reversed(runs)):
            out = work / f"out-{name}-{r}"
            # Start each run with no dirty pages left by the previous one (its writes, its deletion).
            os.sync()
            timings[name].append(_timed(runs[name], out))
            shutil.rmtree(out)
    return timings


def _report(label: str, timings: Timings, ours: str, theirs: str, count: int) -> None:
    rate = {name: count / statistics.median(w for w, _ in timings[name]) for name in (ours, theirs)}
    cpu = {name: 1000 * statistics.median(c for _, c in timings[name]) / count for name in (ours, theirs)}
    print(f"  {label}")
    print(f"    sgm       {rate[ours]:6.1f} files/s   {cpu[ours]:6.1f} CPU ms/file")
    print(f"    dicognito {rate[theirs]:6.1f} files/s   {cpu[theirs]:6.1f} CPU ms/file")
    print(f"    ratio     {rate[ours] / rate[theirs]:6.2f}x (wall)   {cpu[theirs] / cpu[ours]:6.2f}x (CPU)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--columns", type=int, default=1664)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", help="use the .dcm files of this folder instead")
    parser.add_argument("--dataset-exams", type=int, default=0, help="benchmark a dataset export of N exams instead")
    args = parser.parse_args(argv)
    if args.dataset_exams:
        from dataset_bench import run_dataset_bench

        return run_dataset_bench(args.dataset_exams, args.columns, args.rows, args.workers)
    files = _corpus(args)
    for path in files:  # warm the page cache so that neither side pays for the first read
        path.read_bytes()
    size_mb = sum(p.stat().st_size for p in files) / len(files) / 1e6
    with tempfile.TemporaryDirectory(dir=".bench") as tmp:
        timings = _rounds(args, files, Path(tmp))
    print(f"{len(files)} MG files of {args.columns}x{args.rows} ({size_mb:.1f} MB each), {args.workers} process(es)")
    print(f"medians of {args.rounds} alternating rounds; target ratio >= 0.9")
    _report("command lines, start-up included", timings, "cli-sgm", "cli-dicognito", len(files))
    _report("libraries in a process pool", timings, "lib-sgm", "lib-dicognito", len(files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
