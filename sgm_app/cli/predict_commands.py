"""`sgm predict`: run the configured model on one study or on every study it has not done yet."""

from __future__ import annotations

import click
from sqlalchemy import select
from tqdm import tqdm

from emr_core.db import session_scope
from emr_core.models import Study
from sgm_app.cli.context import CliContext, pass_cli
from sgm_models.inference import Backend, InferenceError, open_backend
from sgm_models.predict import PredictionReport, StudyOutcome, predict_studies
from sgm_models.predictions import pending_studies


def _study_id(ctx: CliContext, study_uid: str) -> int:
    with session_scope(ctx.sessions()) as session:
        found = session.scalar(select(Study.id).where(Study.study_uid == study_uid))
    if found is None:
        raise click.ClickException(f"study {study_uid} is not in the EMR")
    return found


def _run(ctx: CliContext, backend: Backend, study_id: int | None) -> PredictionReport:
    model = backend.model
    if study_id is None:
        with session_scope(ctx.sessions()) as session:
            ids = pending_studies(session, model.name, model.version)
    else:
        ids = [study_id]
    with tqdm(total=len(ids), unit="study", desc=f"{model.name} v{model.version}", disable=None) as bar:

        def advance(_: StudyOutcome) -> None:
            bar.update(1)

        workers = ctx.settings.inference_workers
        return predict_studies(ctx.sessions(), ctx.settings.root, backend, ids, workers, advance)


@click.command("predict")
@click.argument("study_uid", required=False)
@click.option("--all", "every", is_flag=True, help="Every study the model version has not done (failed ones again).")
@click.option("--alias", default=None, help="Registry alias or version number (default SGM_INFERENCE_MODEL_ALIAS).")
@pass_cli
def predict(ctx: CliContext, study_uid: str | None, every: bool, alias: str | None) -> None:
    """Store the predictions of model SGM_DETECTOR_MODEL_NAME on STUDY_UID, or on every pending study (--all).

    Runs in-process, or on SGM_INFERENCE_REMOTE_URL (a server speaking MLflow's /invocations).
    Re-running a version on the same images changes nothing; a failed study keeps its reason.
    """
    if every == (study_uid is not None):
        raise click.UsageError("give a STUDY_UID or --all")
    study_id = None if study_uid is None else _study_id(ctx, study_uid)  # a typo fails before the model loads
    try:
        backend = open_backend(ctx.settings, alias)
    except InferenceError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        report = _run(ctx, backend, study_id)
    finally:
        backend.close()
    click.echo(report.summary())
    for reason, count in report.reasons.most_common():
        click.echo(f"  {count} failed: {reason}", err=True)
    if report.failed:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(predict)
