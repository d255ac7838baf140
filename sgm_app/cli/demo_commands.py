"""`sgm demo-data`: a deterministic synthetic mammography corpus with its ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

FULL_SIZE = (3328, 4096)


def _matrix(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        columns, rows = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use COLUMNSxROWS, e.g. 832x1024", param_hint="--matrix") from None
    if columns < 32 or rows < 32:
        raise click.BadParameter("images need at least 32x32 pixels", param_hint="--matrix")
    return columns, rows


@click.command("demo-data")
@click.option("--patients", default=10, show_default=True, type=click.IntRange(1), help="Persons with screening exams.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same bytes.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--full-size", is_flag=True, help=f"Full-field images of {FULL_SIZE[0]}x{FULL_SIZE[1]} pixels.")
@click.option("--matrix", help="Image size as COLUMNSxROWS (default 832x1024).")
@click.option(
    "--registry-extra", default=0, show_default=True, type=click.IntRange(0), help="Registry patients without exams."
)
@click.option(
    "--prior-fraction",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of persons with a prior exam.",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1), help="Processes writing images.")
def demo_data(
    patients: int,
    seed: int,
    out: Path,
    full_size: bool,
    matrix: str | None,
    registry_extra: int,
    prior_fraction: float,
    workers: int,
) -> None:
    """Generate synthetic screening mammograms, a patient registry CSV and the ground truth.

    Writes OUT/dicom/ (MG For Presentation objects), OUT/registry.csv (the hospital's
    master patient list, disagreeing with the headers as real ones do) and
    OUT/ground_truth/ (persons, studies, images, breasts, findings, boxes).
    Re-running with the same options changes nothing.
    """
    from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

    columns, rows = FULL_SIZE if full_size else (_matrix(matrix) or (832, 1024))
    options = CorpusOptions(
        patients=patients,
        seed=seed,
        columns=columns,
        rows=rows,
        registry_extra=registry_extra,
        prior_fraction=prior_fraction,
        workers=workers,
    )
    try:
        with tqdm(desc="images", unit="img") as bar:
            summary = generate_corpus(out, options, progress=bar.update)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"corpus in {out}: {summary.persons} persons, {summary.studies} studies, "
        f"{summary.images} images, {summary.findings} findings, {summary.registry_rows} registry rows"
    )


def register(cli: click.Group) -> None:
    cli.add_command(demo_data)
