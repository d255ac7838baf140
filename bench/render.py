"""Benchmark DICOM → PNG rendering against `dcmj2pnm --write-png +Wi 1 +Syv N`, same files, same run.

    python bench/render.py [--images 60] [--columns 1664 --rows 2048] [--long-side 1024] [--corpus DIR]

Prints images/s for both (interleaved file by file), their ratio, and the mean absolute grey-level difference.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from emr_core.dicom.render import render_png
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus


def _corpus(args: argparse.Namespace, work: Path) -> list[Path]:
    """The DICOM files to render: a given folder, or a synthetic corpus generated once."""
    if args.corpus:
        files = sorted(Path(args.corpus).rglob("*.dcm"))
    else:
        out = Path(".bench") / f"render-{args.columns}x{args.rows}-{args.images}"
        options = CorpusOptions(
            patients=max(1, args.images // 4),
            seed=1,
            columns=args.columns,
            rows=args.rows,
            prior_fraction=0.0,
            workers=2,
        )
        generate_corpus(out, options)
        files = sorted((out / "dicom").rglob("*.dcm"))
    return files[: args.images]


def _interleaved(files: list[Path], long_side: int, work: Path) -> tuple[float, float, list[bytes], list[Path]]:
    """Render each file with both, alternating, so that load from other processes hits both alike."""
    ours_s = dcmtk_s = 0.0
    pngs, refs = [], []
    for i, path in enumerate(files):
        start = time.perf_counter()
        pngs.append(render_png(path, long_side).png)
        ours_s += time.perf_counter() - start
        refs.append(work / f"{i}.png")
        start = time.perf_counter()
        subprocess.run(
            ["dcmj2pnm", "--write-png", "+Wi", "1", "+Syv", str(long_side), str(path), str(refs[-1])], check=True
        )
        dcmtk_s += time.perf_counter() - start
    return ours_s, dcmtk_s, pngs, refs


def _mean_difference(pngs: list[bytes], refs: list[Path]) -> float:
    """Mean absolute grey-level difference over all pixels of all images."""
    diffs = []
    for png, ref in zip(pngs, refs, strict=False):
        ours = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64)
        theirs = np.asarray(Image.open(ref), dtype=np.float64)
        if ours.shape != theirs.shape:
            raise SystemExit(f"size differs for {ref}: ours {ours.shape}, dcmtk {theirs.shape}")
        diffs.append(np.abs(ours - theirs).mean())
    return float(np.mean(diffs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--columns", type=int, default=1664)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--long-side", type=int, default=1024)
    parser.add_argument("--corpus", help="render the .dcm files of this folder instead")
    args = parser.parse_args(argv)
    if shutil.which("dcmj2pnm") is None:
        print("dcmj2pnm not found: apt-get install dcmtk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        files = _corpus(args, Path(tmp))
        for path in files:  # warm the page cache so that neither side pays for the first read
            path.read_bytes()
        ours_s, dcmtk_s, pngs, refs = _interleaved(files, args.long_side, Path(tmp))
        diff = _mean_difference(pngs, refs)
    ours_rate, dcmtk_rate = len(files) / ours_s, len(files) / dcmtk_s
    print(f"{len(files)} images of {args.columns}x{args.rows} to long side {args.long_side}")
    print(f"  sgm render_png (numpy LUT, Up-filtered PNG, zlib level 1): {ours_rate:6.1f} img/s")
    print(f"  dcmj2pnm --write-png +Wi 1 +Syv {args.long_side}:                {dcmtk_rate:6.1f} img/s")
    print(f"  ratio {ours_rate / dcmtk_rate:.2f}x (target >= 2.5x); mean |grey difference| {diff:.3f} (target < 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
