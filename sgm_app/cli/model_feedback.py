"""`sgm model feedback NAME@VERSION`: what the final reads say about a model version, logged to MLflow."""

from __future__ import annotations

import click

from sgm_app.cli.context import CliContext, pass_cli


@click.group("model")
def model() -> None:
    """Registered detection models."""


@model.command("feedback")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--hit", type=click.Choice(["centre", "iou"]), default="centre", show_default=True,
              help="A prediction hits a lesion when its centre is inside the lesion box, or by IoU.")  # fmt: skip
@click.option("--iou", type=float, default=0.3, show_default=True, help="IoU threshold with --hit iou.")
@click.option("--positive", type=click.Choice(["assessment", "finding"]), default="assessment", show_default=True,
              help="An exam is positive when a side is assessed BI-RADS 4 or more, or has any finding.")  # fmt: skip
@click.option("--threshold", type=float, default=0.0, show_default=True,
              help="Score from which a box counts for sensitivity and FP per image.")  # fmt: skip
@click.option("--mlflow/--no-mlflow", default=True, show_default=True, help="Log the figures in MLflow.")
@pass_cli
def feedback(ctx: CliContext, ref: str, hit: str, iou: float, positive: str, threshold: float, mlflow: bool) -> None:
    """Lesion sensitivity, FP per image, FROC, exam AUC and accept/edit/reject of NAME@VERSION (or NAME@ALIAS)."""
    from sgm_datasets.site import tracking_uri
    from sgm_models.feedback_db import FeedbackError
    from sgm_models.feedback_report import build_options, parse_model_ref, resolve_version, run_feedback, summary_rows

    try:
        name, version = parse_model_ref(ref)
        options = build_options(hit, iou, positive, threshold)
        uri = tracking_uri(ctx.settings) if mlflow or not version.isdigit() else None
        version = resolve_version(uri or "", name, version)
        report = run_feedback(ctx.sessions(), uri if mlflow else None, name, version, options)
    except FeedbackError as exc:
        raise click.ClickException(str(exc)) from None
    rows = summary_rows(report.feedback)
    width = max(len(label) for label, _ in rows)
    click.echo(f"{name} version {version}")
    for label, value in rows:
        click.echo(f"  {label:<{width}}  {value}")
    if report.run is not None:
        click.echo(f"MLflow run {report.run.run_id} ({', '.join(report.run.artifacts)})")


def register(cli: click.Group) -> None:
    # Another module may already define `sgm model`: then `feedback` joins that group.
    existing = cli.commands.get("model")
    if isinstance(existing, click.Group):
        existing.add_command(feedback)
    else:
        cli.add_command(model)
