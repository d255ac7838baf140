"""Deterministic synthetic mammography corpus: planning, ground truth and parallel image writing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid
from threadpoolctl import threadpool_limits

from emr_core.processes import process_pool
from emr_core.synthetic import pixels
from emr_core.synthetic.findings import (
    Finding,
    pick,
    plan_compositions,
    plan_finding,
    side_assessments,
)
from emr_core.synthetic.mg_dataset import (
    DEVICES,
    Device,
    HeaderIdentity,
    ImageHeader,
    StudyHeader,
)
from emr_core.synthetic.mg_header import write_image
from emr_core.synthetic.people import REFERENCE_DATE, Person
from emr_core.synthetic.registry import (
    Cohort,
    assign_study_variants,
    build_cohort,
    header_identity,
    quota,
    write_registry,
)
from emr_core.vocabulary.dicom import BREAST_SIDES, SCREENING_VIEWS

FORMAT = "sgm-synthetic-corpus"
# Writes one image's file: mg_header.write_image, or the slower mg_header.write_reference_image it must match.
ImageWriter = Callable[[Path, StudyHeader, ImageHeader, np.ndarray], None]
VERSION = 1
SIDES: tuple[str, ...] = tuple(side.value for side in BREAST_SIDES)
VIEWS: tuple[tuple[str, str], ...] = tuple((side, view.value) for side in SIDES for view in SCREENING_VIEWS)
FINDING_STUDY_FRACTION = 0.20
# Exams handed to a worker at a time: each hand-over costs the parent ~0.7 ms, an eighth of the CPU the
# exam's four small images now take to write, and the parent shares the workers' cores.
STUDIES_PER_TASK = 8
STUDY_IMAGE_VARIANTS: tuple[tuple[str, float], ...] = (
    ("no_view_position", 0.05),
    ("no_image_laterality", 0.05),
    ("desc_vn", 0.10),
)
# Layout of the ground-truth tables: other modules rely on these exact columns.
GT_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("person_id", "registry_patient_id", "registry_issuer", "full_name", "birth_date", "sex"),
    "studies": (
        "study_uid",
        "person_id",
        "accession_number",
        "study_date",
        "dicom_patient_id",
        "dicom_issuer",
        "dicom_patient_name",
        "is_prior",
        "header_variant",
    ),
    "images": (
        "sop_instance_uid",
        "study_uid",
        "series_uid",
        "laterality",
        "view",
        "rows",
        "columns",
        "photometric",
        "manufacturer",
        "path",
        "header_variant",
    ),
    "breasts": ("study_uid", "laterality", "composition", "assessment"),
    "findings": (
        "finding_id",
        "study_uid",
        "laterality",
        "finding_type",
        "mass_shape",
        "mass_margin",
        "mass_density",
        "calc_morphology",
        "calc_distribution",
        "birads",
    ),
    "boxes": ("finding_id", "sop_instance_uid", "view", "xmin", "ymin", "xmax", "ymax"),
}


@dataclass(frozen=True)
class CorpusOptions:
    """What to generate; every field except `workers` changes the output."""

    patients: int = 10
    seed: int = 0
    columns: int = 832
    rows: int = 1024
    registry_extra: int = 0
    prior_fraction: float = 0.3
    workers: int = 1
    finding_fraction: float = FINDING_STUDY_FRACTION  # share of exams with findings


@dataclass(frozen=True)
class CorpusSummary:
    """Counts of what a corpus directory holds."""

    out: Path
    persons: int
    registry_rows: int
    studies: int
    images: int
    findings: int


@dataclass(frozen=True)
class ImageTask:
    """Everything a worker process needs to render and write one image."""

    study: StudyHeader
    image: ImageHeader
    shape: pixels.BreastShape
    composition: str
    lesions: tuple[pixels.Lesion, ...]
    rng_key: tuple[int, ...]
    rows: int
    columns: int
    path: str
    variant: str


@dataclass(frozen=True)
class StudyPlan:
    """A planned exam: header, ground truth and its four image tasks."""

    person: Person
    is_prior: bool
    variants: tuple[str, ...]
    header: StudyHeader
    compositions: dict[str, str]
    assessments: dict[str, str]
    findings: tuple[Finding, ...]
    images: tuple[ImageTask, ...]
    registry_knows_accession: bool


def options_key(options: CorpusOptions) -> dict[str, object]:
    """Options that determine the output (the worker count does not)."""
    key = asdict(options)
    key.pop("workers")
    # Added after corpora were published: left out at its default, so their UIDs and corpus.json stay the same.
    if options.finding_fraction == FINDING_STUDY_FRACTION:
        key.pop("finding_fraction")
    return key


def _uid(key: str, *parts: object) -> str:
    """Deterministic UID from the options fingerprint and a role-specific path."""
    return generate_uid(entropy_srcs=[FORMAT, key, *(str(p) for p in parts)])


def _study_slots(
    rng: np.random.Generator, persons: Sequence[Person], prior_fraction: float
) -> list[tuple[Person, bool, date]]:
    """(person, is_prior, study date): one current exam each, an earlier one for a fraction."""
    n = len(persons)
    with_prior = {int(i) for i in rng.choice(n, size=int(round(prior_fraction * n)), replace=False)} if n else set()
    slots: list[tuple[Person, bool, date]] = []
    for i, person in enumerate(persons):
        current = REFERENCE_DATE - timedelta(days=int(rng.integers(0, 730)))
        if i in with_prior:
            slots.append((person, True, current - timedelta(days=int(rng.integers(330, 760)))))
        slots.append((person, False, current))
    return slots


def _image_flags(rng: np.random.Generator, n: int) -> list[set[str]]:
    """Per-study device quirks drawn by quota; missing ImageLaterality falls back to Laterality or text."""
    flags: list[set[str]] = [set() for _ in range(n)]
    for flag, fraction in STUDY_IMAGE_VARIANTS:
        for i in rng.choice(n, size=min(quota(fraction, n), n), replace=False) if n else ():
            flags[int(i)].add(flag)
    for f in flags:
        if "no_image_laterality" in f:
            f.add("series_laterality_only" if rng.random() < 0.5 else "description_only")
    return flags


def _study_header(
    rng: np.random.Generator,
    key: str,
    index: int,
    slot: tuple[Person, bool, date],
    identity: HeaderIdentity,
    flags: set[str],
    columns: int,
) -> StudyHeader:
    """Device, accession, time and identity of one exam."""
    device: Device = DEVICES[int(rng.choice(len(DEVICES), p=_device_weights()))]
    spacing = device.native_spacing_mm * 3328 / columns  # same field of view at any matrix
    if "desc_vn" in flags:
        device = replace(device, description_style="vn")
    time = f"{int(rng.integers(7, 17)):02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}"
    accession = f"A{slot[2]:%y%m%d}{index + 1:06d}"
    return StudyHeader(_uid(key, "study", index), accession, slot[2], time, identity, device, spacing)


def _device_weights() -> np.ndarray:
    """Normalised device market shares."""
    weights = np.array([d.weight for d in DEVICES])
    return weights / weights.sum()


def _image_variant(flags: set[str], device: Device) -> str:
    """images.csv header_variant: the quirks this image's header carries."""
    tokens = set(flags)
    if device.legacy_view_codes:
        tokens.add("legacy_view_code")
    return ";".join(sorted(tokens)) or "standard"


def _image_tasks(
    key: str,
    index: int,
    seed: int,
    person_id: str,
    header: StudyHeader,
    flags: set[str],
    shapes: dict[tuple[str, str], pixels.BreastShape],
    compositions: dict[str, str],
    findings: Sequence[Finding],
    rows: int,
    columns: int,
) -> tuple[ImageTask, ...]:
    """The four views of one exam."""
    device, tasks = header.device, []
    center, width = pixels.window(device.photometric, device.bits_stored)
    for j, (lat, view) in enumerate(VIEWS):
        sop = _uid(key, "image", index, j)
        series_index = j if device.one_series_per_view else 0
        image = ImageHeader(
            sop,
            _uid(key, "series", index, series_index),
            series_index + 1,
            j + 1,
            lat,
            view,
            "no_image_laterality" not in flags,
            "series_laterality_only" in flags,
            "no_view_position" not in flags,
            center,
            width,
        )
        lesions = tuple(f.lesions[view] for f in findings if f.laterality == lat)
        path = f"dicom/{person_id}/{header.study_uid}/{sop}.dcm"
        tasks.append(
            ImageTask(
                header,
                image,
                shapes[(lat, view)],
                compositions[lat],
                lesions,
                (seed, index, j),
                rows,
                columns,
                path,
                _image_variant(flags, device),
            )
        )
    return tuple(tasks)


def _plan_study(
    rng: np.random.Generator,
    options: CorpusOptions,
    key: str,
    index: int,
    slot: tuple[Person, bool, date],
    variants: tuple[str, ...],
    flags: set[str],
    n_findings: int,
) -> StudyPlan:
    """Plan one exam: identity as written, device, breasts, findings and image tasks."""
    person, is_prior, _ = slot
    identity = header_identity(person, variants, rng)
    header = _study_header(rng, key, index, slot, identity, flags, options.columns)
    shapes = {(lat, view): pixels.random_shape(rng, view) for lat, view in VIEWS}
    compositions = plan_compositions(rng)
    findings = tuple(
        plan_finding(
            rng,
            f"F{index + 1:06d}-{k + 1}",
            pick(rng, SIDES),
            shapes,
            header.spacing_mm,
            options.rows,
            options.columns,
        )
        for k in range(n_findings)
    )
    assessments = side_assessments(rng, findings)
    tasks = _image_tasks(
        key,
        index,
        options.seed,
        person.person_id,
        header,
        flags,
        shapes,
        compositions,
        findings,
        options.rows,
        options.columns,
    )
    knows = bool(person.registry_patient_id) and bool(rng.random() < 0.5)
    return StudyPlan(person, is_prior, variants, header, compositions, assessments, findings, tasks, knows)


def plan_corpus(options: CorpusOptions) -> tuple[Cohort, list[StudyPlan]]:
    """Plan the whole corpus in one deterministic pass (no pixels yet)."""
    rng = np.random.default_rng([options.seed, VERSION])
    key = json.dumps(options_key(options), sort_keys=True)
    cohort = build_cohort(rng, options.patients, options.registry_extra)
    slots = _study_slots(rng, cohort.persons, options.prior_fraction)
    variants = assign_study_variants(rng, [s[0] for s in slots], cohort.tags)
    flags = _image_flags(rng, len(slots))
    n_with = quota(options.finding_fraction, len(slots), forced_from=5)
    with_findings = {int(i) for i in rng.choice(len(slots), size=min(n_with, len(slots)), replace=False)}
    plans = []
    for i, slot in enumerate(slots):
        n_findings = (2 if rng.random() < 0.2 else 1) if i in with_findings else 0
        plans.append(_plan_study(rng, options, key, i, slot, variants[i], flags[i], n_findings))
    return cohort, plans


def render_image(task: ImageTask, out: Path, writer: ImageWriter = write_image) -> None:
    """Render and write one DICOM file (runs in worker processes)."""
    rng = np.random.default_rng(list(task.rng_key))
    device = task.study.device
    signal = pixels.render_signal(
        task.shape, task.image.laterality, task.rows, task.columns, task.composition, task.lesions, rng
    )
    stored = pixels.to_stored(signal, device.photometric, device.bits_stored)
    writer(out / task.path, task.study, task.image, stored)


def _render_study(tasks: tuple[ImageTask, ...], out: str, writer: ImageWriter) -> int:
    """Write one exam's images; returns how many were written."""
    for task in tasks:
        render_image(task, Path(out), writer)
    return len(tasks)


def _single_thread_blas() -> None:
    """One BLAS thread: pixels must not depend on how BLAS splits a sum (nor oversubscribe the pool's cores)."""
    threadpool_limits(1)


def _write_images(
    plans: Sequence[StudyPlan],
    out: Path,
    workers: int,
    progress: Callable[[int], None] | None,
    writer: ImageWriter,
) -> None:
    """Write all images, in parallel when asked; output does not depend on the worker count."""
    units = [p.images for p in plans]
    if workers <= 1:
        # Same single-threaded BLAS as the workers: multi-threaded sums round differently.
        with threadpool_limits(1):
            for unit in units:
                n = _render_study(unit, str(out), writer)
                if progress:
                    progress(n)
        return
    with process_pool(workers, preload=[__name__], initializer=_single_thread_blas) as pool:
        args = (units, [str(out)] * len(units), [writer] * len(units))
        for n in pool.map(_render_study, *args, chunksize=STUDIES_PER_TASK):
            if progress:
                progress(n)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """UTF-8 CSV with Unix newlines (byte-stable across platforms)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def _person_rows(cohort: Cohort) -> list[list[object]]:
    """persons.csv rows."""
    return [
        [p.person_id, p.registry_patient_id, p.registry_issuer, p.name.full, p.birth_date.isoformat(), p.sex]
        for p in cohort.persons
    ]


def _study_rows(plans: Sequence[StudyPlan]) -> list[list[object]]:
    """studies.csv rows."""
    return [
        [
            p.header.study_uid,
            p.person.person_id,
            p.header.accession,
            p.header.study_date.isoformat(),
            p.header.identity.patient_id,
            p.header.identity.issuer,
            p.header.identity.patient_name,
            "true" if p.is_prior else "false",
            ";".join(p.variants),
        ]
        for p in plans
    ]


def _image_rows(plans: Sequence[StudyPlan]) -> list[list[object]]:
    """images.csv rows."""
    return [
        [
            t.image.sop_uid,
            t.study.study_uid,
            t.image.series_uid,
            t.image.laterality,
            t.image.view,
            t.rows,
            t.columns,
            t.study.device.photometric,
            t.study.device.manufacturer,
            t.path,
            t.variant,
        ]
        for p in plans
        for t in p.images
    ]


def _finding_rows(plans: Sequence[StudyPlan]) -> tuple[list[list[object]], list[list[object]]]:
    """findings.csv and boxes.csv rows (boxes in DICOM pixel coordinates)."""
    findings: list[list[object]] = []
    boxes: list[list[object]] = []
    for plan in plans:
        for f in plan.findings:
            a = f.attributes
            findings.append(
                [
                    f.finding_id,
                    plan.header.study_uid,
                    f.laterality,
                    f.finding_type,
                    a.get("mass_shape", ""),
                    a.get("mass_margin", ""),
                    a.get("mass_density", ""),
                    a.get("calc_morphology", ""),
                    a.get("calc_distribution", ""),
                    f.birads,
                ]
            )
            for task in plan.images:
                if task.image.laterality == f.laterality:
                    box = pixels.lesion_box(f.lesions[task.image.view], task.rows, task.columns)
                    boxes.append([f.finding_id, task.image.sop_uid, task.image.view, *box])
    return findings, boxes


def _write_ground_truth(out: Path, cohort: Cohort, plans: Sequence[StudyPlan]) -> int:
    """Write ground_truth/*.csv; returns the number of findings."""
    gt = out / "ground_truth"
    findings, boxes = _finding_rows(plans)
    breasts = [[p.header.study_uid, side, p.compositions[side], p.assessments[side]] for p in plans for side in SIDES]
    tables: dict[str, Sequence[Sequence[object]]] = {
        "persons": _person_rows(cohort),
        "studies": _study_rows(plans),
        "images": _image_rows(plans),
        "breasts": breasts,
        "findings": findings,
        "boxes": boxes,
    }
    for name, rows in tables.items():
        _write_csv(gt / f"{name}.csv", GT_COLUMNS[name], rows)
    return len(findings)


def _validate(options: CorpusOptions) -> None:
    """Reject options that cannot produce a sensible corpus."""
    if options.patients < 0 or options.registry_extra < 0:
        raise ValueError("patients and registry_extra must be >= 0")
    if options.columns < 64 or options.rows < 64:
        raise ValueError(f"matrix {options.columns}x{options.rows} too small (minimum 64x64)")
    if not 0.0 <= options.prior_fraction <= 1.0:
        raise ValueError(f"prior_fraction must be within [0, 1], got {options.prior_fraction}")
    if not 0.0 <= options.finding_fraction <= 1.0:
        raise ValueError(f"finding_fraction must be within [0, 1], got {options.finding_fraction}")
    if options.workers < 1:
        raise ValueError("workers must be >= 1")


def _existing_summary(out: Path, options: CorpusOptions) -> CorpusSummary | None:
    """The summary of an identical corpus already in `out`, None if `out` may be (re)written."""
    meta = out / "corpus.json"
    if meta.exists():
        data = json.loads(meta.read_text(encoding="utf-8"))
        stored, wanted = data.get("options", {}), options_key(options)
        if stored != wanted:
            keys = sorted(stored.keys() | wanted.keys())  # an option left out at its default differs too
            diff = {k: (stored.get(k), wanted.get(k)) for k in keys if stored.get(k) != wanted.get(k)}
            raise ValueError(
                f"{out} already holds a corpus generated with different options "
                f"(option: (existing, requested)): {diff}; use another directory"
            )
        return CorpusSummary(out=out, **data["counts"])
    # An interrupted run leaves only our own files: rewriting them is safe (output is deterministic).
    foreign = (
        sorted(p.name for p in out.iterdir() if p.name not in {"dicom", "ground_truth", "registry.csv"})
        if out.exists()
        else []
    )
    if foreign:
        raise ValueError(f"{out} is not empty and holds no corpus.json (found {foreign[:5]})")
    return None


def generate_corpus(
    out: Path,
    options: CorpusOptions,
    progress: Callable[[int], None] | None = None,
    *,
    writer: ImageWriter = write_image,
) -> CorpusSummary:
    """Generate (or find already generated) the synthetic corpus in `out`; `writer` is for the reference test/bench."""
    _validate(options)
    out = Path(out)
    existing = _existing_summary(out, options)
    if existing is not None:
        return existing
    out.mkdir(parents=True, exist_ok=True)
    cohort, plans = plan_corpus(options)
    accessions: dict[str, list[str]] = {}
    for plan in plans:
        if plan.registry_knows_accession:
            accessions.setdefault(plan.person.person_id, []).append(plan.header.accession)
    registry_rows = write_registry(out / "registry.csv", cohort, accessions)
    n_findings = _write_ground_truth(out, cohort, plans)
    _write_images(plans, out, options.workers, progress, writer)
    counts = {
        "persons": len(cohort.persons),
        "registry_rows": registry_rows,
        "studies": len(plans),
        "images": sum(len(p.images) for p in plans),
        "findings": n_findings,
    }
    # Written last: its presence marks a complete corpus.
    meta = {"format": FORMAT, "version": VERSION, "options": options_key(options), "counts": counts}
    (out / "corpus.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return CorpusSummary(out=out, **counts)
