"""Benchmark the synthetic corpus writer: the cached-bytes writer against the pydicom Dataset + save_as reference.

    python bench/corpus_writer.py [--scale 0.2] [--workers 2] [--seed 1] [--keep DIR]

Writes the same corpus (bench/scale.py's archive options at --scale, same worker count) twice in one run, once
with each writer, times each whole generate_corpus call (planning, ground truth, rendering and writing), checks
the two corpora are byte for byte the same, and prints images/s of each (end to end, and from the first written
exam to the last, which leaves out planning, ground truth and the pool's start), the CPU time of this process per
image (the whole cost with --workers 1, robust to other load), their ratios and the load average: other processes
on the machine slow both runs alike only if the load stays steady, so read it alongside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench modules

from scale_stages import archive_options  # bench/ is on sys.path first

from emr_core.synthetic.corpus import CorpusOptions, ImageWriter, generate_corpus
from emr_core.synthetic.mg_header import write_image, write_reference_image

WRITERS: dict[str, ImageWriter] = {"pydicom Dataset + save_as": write_reference_image, "cached bytes": write_image}


@dataclass(frozen=True)
class Run:
    """What one writer took for the whole corpus."""

    images: int
    seconds: float
    steady: float  # images/s from the first written exam to the last
    cpu_ms: float  # CPU of this process per image: all of it with --workers 1, the parent's share otherwise

    def line(self) -> str:
        """The run's figures."""
        return (
            f"{self.images} images in {self.seconds:.1f} s: {self.images / self.seconds:.1f} img/s end to end, "
            f"{self.steady:.1f} img/s while writing images, {self.cpu_ms:.2f} ms CPU/image in this process"
        )


def _timed(out: Path, options: CorpusOptions, writer: ImageWriter) -> Run:
    """Generate the corpus with `writer`, timing it."""
    ticks: list[tuple[float, int]] = []
    start, cpu = time.perf_counter(), time.process_time()
    summary = generate_corpus(out, options, lambda n: ticks.append((time.perf_counter(), n)), writer=writer)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    # Planning, ground truth and the pool's start come before the first exam is written.
    steady = sum(n for _, n in ticks[1:]) / (ticks[-1][0] - ticks[0][0]) if len(ticks) > 1 else float("nan")
    return Run(summary.images, seconds, steady, cpu / max(summary.images, 1) * 1e3)


def _differing(a: Path, b: Path) -> list[str]:
    """Relative paths whose bytes differ between two corpora (or that only one holds)."""
    names = {str(p.relative_to(root)) for root in (a, b) for p in root.rglob("*") if p.is_file()}
    return sorted(
        n
        for n in names
        if not (a / n).is_file() or not (b / n).is_file() or (a / n).read_bytes() != (b / n).read_bytes()
    )


def _load() -> str:
    """The 1, 5 and 15 minute load averages and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.2, help="bench/scale.py's hospital size (x1 = 18,002 images)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the two corpora under this folder and keep them")
    args = parser.parse_args(argv)
    options = archive_options(args.scale, args.seed, args.workers)
    root = Path(args.keep or tempfile.mkdtemp(prefix="corpus-writer-"))
    print(f"corpus x{args.scale} ({options.columns}x{options.rows}), {args.workers} workers; {_load()}")
    runs: list[Run] = []
    outs: list[Path] = []
    try:
        for i, (name, writer) in enumerate(WRITERS.items()):
            outs.append(root / f"writer{i}")
            shutil.rmtree(outs[-1], ignore_errors=True)  # a kept corpus would be found, not written
            runs.append(_timed(outs[-1], options, writer))
            print(f"  {name}: {runs[-1].line()}; {_load()}")
        differing = _differing(*outs)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    old, new = runs
    print(
        f"  ratio {old.seconds / new.seconds:.2f}x end to end, {new.steady / old.steady:.2f}x while writing images, "
        f"{old.cpu_ms / new.cpu_ms:.2f}x in CPU/image of this process (target >= 4x)"
    )
    print(f"  files differing: {len(differing)} {differing[:3]}")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
