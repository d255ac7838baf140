"""`sgm demo-data`: a deterministic synthetic mammography corpus with its ground truth;
`sgm demo reads`: SIMULATED reads of that ground truth by the demo readers, for `make run`'s walkthrough."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from tqdm import tqdm

from emr_core.synthetic.corpus import FINDING_STUDY_FRACTION
from sgm_app.cli.context import CliContext, pass_cli

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
@click.option(
    "--finding-fraction",
    default=FINDING_STUDY_FRACTION,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of exams with findings (masses, calcifications) and their boxes.",
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
    finding_fraction: float,
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
        finding_fraction=finding_fraction,
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


def _tokens(path: Path) -> dict[str, str]:
    """`EMAIL TOKEN` per line (as `sgm readers add --token-file` writes); blank lines and # comments skipped."""
    tokens = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise click.BadParameter(f"{path} line {number}: expected EMAIL TOKEN", param_hint="--tokens")
        tokens[parts[0].lower()] = parts[1]
    return tokens


@click.group("demo")
def demo_group() -> None:
    """Demo helpers for `make run` (synthetic data only)."""


@demo_group.command("reads")
@click.argument("campaign")
@click.option(
    "--ground-truth",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="OUT/ground_truth of `sgm demo-data`.",
)
@click.option(
    "--tokens",
    "token_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The demo readers' Label Studio tokens, EMAIL TOKEN per line (`sgm readers add --token-file`).",
)
@click.option(
    "--disagreement",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of sides reader 2 reads differently (these go to adjudication).",
)
@pass_cli
def demo_reads(ctx: CliContext, campaign: str, ground_truth: Path, token_file: Path, disagreement: float) -> None:
    """SIMULATED reads: the demo readers read CAMPAIGN's sides from the corpus's ground truth.

    Each reader submits in Label Studio with their own token. Reader 2 reads a deterministic
    share of sides with another breast density, so those go to adjudication; run again after
    consolidation and the adjudicator reads the queued sides. Sides already read are left alone.
    Audited as simulated demo reads. Never use this on real patients' exams.
    """
    from annotation_ui.campaigns import CampaignError
    from annotation_ui.client import RequestError, admin_client
    from annotation_ui.demo_reads import DemoReadsError, load_ground_truth, submit_demo_reads
    from annotation_ui.server import LabelStudioError

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the SDK logs every request at INFO
    click.echo(f"SIMULATED demo reads for campaign {campaign!r} (synthetic ground truth, not a radiologist)")
    try:
        report = submit_demo_reads(
            ctx.sessions(),
            admin_client(ctx.settings),
            campaign,
            load_ground_truth(ground_truth),
            _tokens(token_file),
            disagreement,
            by="cli",
        )
    except (DemoReadsError, CampaignError, LabelStudioError, RequestError) as exc:
        raise click.ClickException(str(exc)) from None
    per_role = ", ".join(f"{role} {n}" for role, n in report.submitted.items())
    click.echo(
        f"simulated reads submitted: {per_role}; {report.disagreements} planted disagreement(s); "
        f"{report.already_read} already read; {report.without_truth} without ground truth"
    )


def register(cli: click.Group) -> None:
    cli.add_command(demo_data)
    cli.add_command(demo_group)
