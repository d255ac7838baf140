"""`sgm model train | list | promote`: the baseline detector in the MLflow model registry."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import click

from detection.baseline import UntrainableError
from emr_core.db import session_scope
from sgm_app.cli.context import CliContext, pass_cli
from sgm_datasets.errors import DatasetError
from sgm_models.errors import ModelError


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Model, dataset and tracking-server failures as one line, never a traceback."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (ModelError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from None
    except UntrainableError as exc:  # e.g. a dataset version whose reads have no findings
        raise click.ClickException(f"cannot train on this dataset version: {exc}") from None
    except MlflowException as exc:
        raise click.ClickException(f"MLflow: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")) from None


def _tracking(ctx: CliContext) -> str:
    from sgm_datasets.site import tracking_uri

    return tracking_uri(ctx.settings)


@click.group("model")
def model() -> None:
    """Detectors in the MLflow registry: train, list, promote."""


@model.command("train")
@click.argument("dataset", default="screening")
@click.option("--version", default="latest", show_default=True, help="Dataset version (id or unique prefix).")
@click.option("--iterations", type=click.IntRange(1, 5000), default=150, show_default=True, help="Boosting rounds.")
@click.option("--seed", type=int, default=0, show_default=True)
@pass_cli
def train(ctx: CliContext, dataset: str, version: str, iterations: int, seed: int) -> None:
    """Train the baseline detector on DATASET, evaluate it on the held-out split and register it."""
    from detection.baseline import BaselineConfig
    from sgm_models.training import TrainingRequest, train_detector

    name = ctx.settings.detector_model_name
    request = TrainingRequest(dataset, version, name, BaselineConfig(iterations=iterations, seed=seed))
    with _one_line_errors():
        report = train_detector(
            ctx.settings, request, _tracking(ctx), progress=lambda s: click.echo(f"… {s}", err=True)
        )
    sens = ", ".join(f"{k:g}:{v:.2f}" for k, v in report.test.sensitivity.items())
    click.echo(f"test FROC score {report.test.froc_score:.3f} (trivial {report.trivial.froc_score:.3f}); {sens}")
    click.echo(f"registered {name} v{report.model_version} ({', '.join(report.aliases)}) run {report.run_id}")


@model.command("list")
@pass_cli
def list_versions(ctx: CliContext) -> None:
    """Versions of the detector, newest first, with aliases and the dataset version each was trained on."""
    from sgm_models.registry import ModelRegistry

    name = ctx.settings.detector_model_name
    with _one_line_errors():
        versions = ModelRegistry(_tracking(ctx)).versions(name)
    for v in versions:
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        click.echo(f"{name} v{v.version}{aliases} dataset {v.dataset}@{v.dataset_version[:12]} run {v.run_id}")


@model.command("promote")
@click.option("--dataset", default="screening", show_default=True, help="Dataset whose test split decides.")
@click.option("--version", default="latest", show_default=True, help="Dataset version (the same for both models).")
@click.option("--min-gain", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="FROC score margin.")
@pass_cli
def promote_command(ctx: CliContext, dataset: str, version: str, min_gain: float) -> None:
    """Compare champion and challenger on one held-out version; move champion when the challenger is as good."""
    from sgm_models.registry import ModelRegistry, promote

    name = ctx.settings.detector_model_name
    with _one_line_errors(), session_scope(ctx.sessions()) as session:
        result = promote(
            session, ctx.settings, ModelRegistry(_tracking(ctx)), name, dataset, version, getpass.getuser(), min_gain
        )
    if result.champion_eval is None or result.challenger_eval is None:
        click.echo(f"champion and challenger are both v{result.champion}: nothing to compare")
        return
    scores = f"FROC {result.champion_eval.froc_score:.3f} vs {result.challenger_eval.froc_score:.3f}"
    verdict = f"champion is now v{result.challenger}" if result.moved else f"champion stays v{result.champion}"
    click.echo(f"{name} on {dataset}@{result.dataset_version[:12]}: {scores}; {verdict}")


def register(cli: click.Group) -> None:
    from sgm_app.cli import model_feedback

    cli.add_command(model)
    model_feedback.register(cli)  # `sgm model feedback` joins this group
