"""Benchmark header indexing against `dcmdump -q -M` at two image sizes, in the same run.

Usage: `python bench/ingest.py --generate [--plain] [--files 1000] [--columns 832 --rows 1024]`
(a synthetic corpus at that size and at twice the columns and rows), or
`python bench/ingest.py --corpus DIR` for files you have.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from emr_core.dicom.ingest import collect_files, index_headers

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
VIEWS = (("L", "CC", "399162004"), ("L", "MLO", "399368009"), ("R", "CC", "399162004"),
         ("R", "MLO", "399368009"))  # fmt: skip


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _header(study: str, series: str, index: int, rows: int, columns: int) -> Dataset:
    """A For Presentation MG header with the attributes a real device sends (~3 KB)."""
    side, view, code = VIEWS[index % 4]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.SOPClassUID, ds.SOPInstanceUID = MG_FOR_PRESENTATION, generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240315"
    ds.StudyTime = ds.ContentTime = "101500"
    ds.AccessionNumber, ds.Modality, ds.Manufacturer = f"ACC{index // 4:06d}", "MG", "BENCH"
    ds.InstitutionName, ds.ReferringPhysicianName = "Bench Hospital", ""
    ds.StudyDescription, ds.SeriesDescription = "MAMMO SCREENING", f"{side} {view}"
    ds.PatientName, ds.PatientID = "Nguyễn^Lan^Thị", f"P{index // 4:06d}"
    ds.IssuerOfPatientID, ds.PatientBirthDate, ds.PatientSex = "HOSP", "19700101", "F"
    ds.BodyPartExamined, ds.KVP, ds.ExposureTime, ds.XRayTubeCurrent = "BREAST", "29", "1200", "100"
    ds.DistanceSourceToDetector, ds.DistanceSourceToPatient = "660", "640"
    ds.ImagerPixelSpacing, ds.ViewPosition = [0.1, 0.1], view
    ds.BodyPartThickness, ds.CompressionForce = "50", "100"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1 + index % 4, 1
    ds.ImageLaterality, ds.PresentationIntentType = side, "FOR PRESENTATION"
    ds.ViewCodeSequence = Sequence([_code(code, "SCT", view)])
    ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence()
    ds.AnatomicRegionSequence = Sequence([_code("76752008", "SCT", "Breast")])
    _image_modules(ds, side, rows, columns)
    return ds


def _image_modules(ds: Dataset, side: str, rows: int, columns: int) -> None:
    """DX and MG image module attributes, so that dciodvfy accepts the file."""
    ds.PatientOrientation = ["A", "R"] if side == "L" else ["P", "L"]
    ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LOG", 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.PresentationLUTShape, ds.LossyImageCompression = "IDENTITY", "00"
    ds.BurnedInAnnotation, ds.DetectorType = "NO", "DIRECT"
    ds.PositionerType, ds.OrganExposed = "MAMMOGRAPHIC", "BREAST"
    ds.AcquisitionContextSequence = Sequence()
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"


def generate(out: Path, files: int, rows: int, columns: int) -> Path:
    """Write `files` MG images (four per study) with zero pixel data of the given size."""
    out.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((rows, columns), np.uint16).tobytes()
    study = series = ""
    for index in range(files):
        if index % 4 == 0:
            study = generate_uid()
        series = generate_uid()
        ds = _header(study, series, index, rows, columns)
        ds.PixelData = pixels
        ds.save_as(out / f"{index:06d}.dcm", enforce_file_format=True)
    return out


def _corpus(out: Path, files: int, rows: int, columns: int, plain: bool) -> Path:
    """The project's synthetic corpus (rendered breasts), or plain zero-pixel MG files."""
    if plain:
        return generate(out, files, rows, columns)
    from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

    # About 5.6 images per patient (priors included); its DICOM files live under out/dicom.
    options = CorpusOptions(patients=max(1, files * 10 // 56), seed=7, columns=columns, rows=rows, workers=2)
    generate_corpus(out, options)
    return out / "dicom"


@dataclass(frozen=True)
class Timing:
    """One timed call: wall-clock files/s and CPU microseconds per file (all processes)."""

    files_per_s: float
    cpu_us_per_file: float


def _timed(fn: Callable[[], int]) -> Timing:
    """Time fn (which returns how many files it handled), counting its child processes' CPU."""
    before, start = os.times(), time.perf_counter()
    n = fn()
    wall, after = time.perf_counter() - start, os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in _CPU_FIELDS)
    return Timing(n / wall, cpu / n * 1e6)


_CPU_FIELDS = ("user", "system", "children_user", "children_system")


def _ours(files: list[str], workers: int, chunksize: int | None) -> int:
    results = list(index_headers(files, workers=workers, chunksize=chunksize))
    bad = [r for r in results if not hasattr(r, "sop_instance_uid")]
    if bad:
        raise SystemExit(f"{len(bad)} files failed to index, first: {bad[0]}")
    return len(results)


def _dcmdump(files: list[str]) -> int:
    subprocess.run(["dcmdump", "-q", "-M", *files], check=True, stdout=subprocess.DEVNULL)
    return len(files)


def measure(corpus: Path, workers: int, chunksize: int | None, rounds: int) -> tuple[float, float]:
    """Median files/s of index_headers and of dcmdump over the same files.

    Rounds interleave the two so that load from other processes hits both alike; CPU per
    file is printed too, as it hardly depends on that load.
    """
    files = collect_files([corpus])
    _ours(files, workers, chunksize), _dcmdump(files)  # warm the page cache
    ours, reference = [], []
    for round_ in range(rounds):
        # Swap which one goes first each round: neither always finds the other's cache state.
        if round_ % 2:
            reference.append(_timed(lambda: _dcmdump(files)))
        ours.append(_timed(lambda: _ours(files, workers, chunksize)))
        if not round_ % 2:
            reference.append(_timed(lambda: _dcmdump(files)))
    rate, ref_rate = (statistics.median(t.files_per_s for t in x) for x in (ours, reference))
    cpu, ref_cpu = (statistics.median(t.cpu_us_per_file for t in x) for x in (ours, reference))
    mb = sum(os.path.getsize(f) for f in files) / len(files) / 1e6
    print(
        f"{corpus.parent.name}/{corpus.name}: {len(files)} files, {mb:.1f} MB each\n"
        f"  index_headers ({workers} workers, chunksize {chunksize or 'auto'}): "
        f"{rate:,.0f} files/s, {cpu:.0f} us CPU/file\n"
        f"  dcmdump -q -M: {ref_rate:,.0f} files/s, {ref_cpu:.0f} us CPU/file\n"
        f"  ratio (files/s): {rate / ref_rate:.2f}"
    )
    return rate, ref_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="folder of DICOM files to index")
    parser.add_argument("--generate", action="store_true", help="make a synthetic corpus (both sizes)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="zero-pixel files (fast to write) instead of the corpus",
    )
    parser.add_argument("--files", type=int, default=1000, help="about this many images per size")
    parser.add_argument("--columns", type=int, default=832)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=None, help="default: index_headers' own")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.corpus:
        measure(args.corpus, args.workers, args.chunksize, args.rounds)
        return 0
    if not args.generate:
        parser.error("give --corpus DIR or --generate")
    tmp = Path(tempfile.mkdtemp(prefix="sgm-bench-"))
    try:
        cols, rows = args.columns, args.rows
        small = _corpus(tmp / f"{cols}x{rows}", args.files, rows, cols, args.plain)
        large = _corpus(tmp / f"{2 * cols}x{2 * rows}", args.files, 2 * rows, 2 * cols, args.plain)
        os.sync()  # let writeback of the fresh corpus finish before timing reads
        ours_s, ref_s = measure(small, args.workers, args.chunksize, args.rounds)
        ours_l, ref_l = measure(large, args.workers, args.chunksize, args.rounds)
        print(f"4x pixels: index_headers {ours_l / ours_s:.2f}x the small-image rate, dcmdump {ref_l / ref_s:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
