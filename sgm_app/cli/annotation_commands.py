"""`sgm labelstudio`, `sgm readers`, `sgm campaign`: annotation in Label Studio with blind double reading."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from annotation_ui.labeling_config import READING_LONG_SIDE
from emr_core.db import session_scope
from sgm_app.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from annotation_ui.server import LabelStudioServer

# The Label Studio SDK logs every HTTP request at INFO through httpx: too chatty for a CLI.
logging.getLogger("httpx").setLevel(logging.WARNING)


def _server(ctx: CliContext) -> LabelStudioServer:
    from annotation_ui.server import LabelStudioServer

    return LabelStudioServer.from_settings(ctx.settings)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("labelstudio")
def labelstudio_group() -> None:
    """Run the Label Studio annotation server (loopback only; SGM_LABEL_STUDIO_PORT, SGM_LABEL_STUDIO_BIN)."""


@labelstudio_group.command("start")
@click.option("--foreground", is_flag=True, help="Replace this process with the server (for supervisors).")
@click.option("--timeout", default=240.0, show_default=True, help="Seconds to wait until it answers.")
@pass_cli
def labelstudio_start(ctx: CliContext, foreground: bool, timeout: float) -> None:
    """Start Label Studio headless; admin credentials are generated on first run (mode 0600)."""
    from annotation_ui.server import LabelStudioError, run_foreground, start

    server = _server(ctx)
    try:
        if foreground:
            click.echo(f"Label Studio starting at {server.url} (log {server.log_file})")
            run_foreground(server)
        pid = start(server, timeout)
    except LabelStudioError as exc:
        raise _fail(exc) from None
    click.echo(f"Label Studio running at {server.url} (pid {pid}); admin login in {server.home / 'credentials.json'}")


@labelstudio_group.command("stop")
@pass_cli
def labelstudio_stop(ctx: CliContext) -> None:
    """Stop the Label Studio started by `sgm labelstudio start`."""
    from annotation_ui.server import stop

    click.echo("stopped" if stop(_server(ctx)) else "Label Studio was not running")


@labelstudio_group.command("status")
@click.option("--wait", default=0.0, help="Wait up to this many seconds for it to answer.")
@pass_cli
def labelstudio_status(ctx: CliContext, wait: float) -> None:
    """Say whether Label Studio answers; exit status 1 if not."""
    from annotation_ui.server import LabelStudioError, is_ready, running_pid, wait_ready

    server = _server(ctx)
    try:
        if wait:
            wait_ready(server, wait)
    except LabelStudioError:
        pass
    if not is_ready(server):
        raise click.ClickException(f"Label Studio does not answer on {server.url}")
    click.echo(f"Label Studio up at {server.url} (pid {running_pid(server) or 'not started by sgm'})")


@click.group("readers")
def readers_group() -> None:
    """Radiologist accounts in Label Studio."""


@readers_group.command("add")
@click.argument("email")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also append `EMAIL TOKEN` to this file (mode 0600), e.g. for `sgm demo reads`.",
)
@pass_cli
def readers_add(ctx: CliContext, email: str, token_file: Path | None) -> None:
    """Create a reader account with its own API token; the password is shown once, here."""
    from annotation_ui.client import admin_client
    from annotation_ui.readers import ReaderError, create_reader, register_reader
    from annotation_ui.server import LabelStudioError

    try:
        account = create_reader(admin_client(ctx.settings), email)
        with session_scope(ctx.sessions()) as session:
            register_reader(session, account, by="cli")
    except (ReaderError, LabelStudioError) as exc:
        raise _fail(exc) from None
    click.echo(
        f"reader {account.email} created (Label Studio user {account.ls_user_id})\n"
        f"  password (shown once; hand it over securely): {account.password}\n"
        f"  API token: {account.token}"
    )
    if token_file:
        _append_private(token_file, f"{account.email} {account.token}\n")


def _append_private(path: Path, line: str) -> None:
    """Append to a file only its owner may read (created so, never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)


@click.group("campaign")
def campaign_group() -> None:
    """Annotation campaigns: blind double reading, adjudication, consolidation, export."""


def _study_ids(
    ctx: CliContext, study_uids: tuple[str, ...], limit: int | None, not_in: tuple[str, ...] = ()
) -> list[int]:
    from annotation_ui.campaigns import campaign_study_ids

    with session_scope(ctx.sessions()) as session:
        return campaign_study_ids(session, study_uids, limit, not_in)


@campaign_group.command("create")
@click.argument("name")
@click.option(
    "--scheme",
    default="blind_double",
    show_default=True,
    help="Reading scheme (see `sgm gateway schemes`): single, blind_double, blind_double_ai, open_consensus, "
    "senior_review, ai_assisted.",
)
@click.option("--reader", "readers", multiple=True, required=True, help="A first reader's email (two: double reads).")
@click.option("--adjudicator", help="The adjudicator's email (blind double schemes).")
@click.option("--senior", help="The senior reviewer's email (senior_review).")
@click.option("--study-uid", "study_uids", multiple=True, help="Studies to include (default: every mammography study).")
@click.option("--limit", type=click.IntRange(1), help="At most this many studies.")
@click.option("--not-in", "not_in", multiple=True, metavar="CAMPAIGN", help="Leave out studies of this campaign.")
@click.option("--seed", default=0, show_default=True, help="Seeds each reader's random reading order.")
@click.option(
    "--long-side",
    default=READING_LONG_SIDE,
    show_default=True,
    help="Rendered image long side in pixels (larger images are reduced, smaller ones kept as they are).",
)
@click.option(
    "--schema-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON restricting or extending the BI-RADS box properties.",
)
@pass_cli
def campaign_create(
    ctx: CliContext,
    name: str,
    scheme: str,
    readers: tuple[str, ...],
    adjudicator: str | None,
    senior: str | None,
    study_uids: tuple[str, ...],
    limit: int | None,
    not_in: tuple[str, ...],
    seed: int,
    long_side: int,
    schema_config: Path | None,
) -> None:
    """Render the exams and create one Label Studio project per role of the reading scheme."""
    from annotation_ui.campaigns import CampaignError, provision_campaign
    from annotation_ui.client import admin_client
    from annotation_ui.readers import ReaderError
    from annotation_ui.schema import SchemaConfigError, load_schema_config
    from annotation_ui.scheme_provision import RolesError, roles_for
    from annotation_ui.schemes import SchemeError, scheme_named
    from annotation_ui.server import LabelStudioError

    try:
        roles_for(scheme_named(scheme), readers, senior, adjudicator)  # before anything slow: a one-line error
        config = load_schema_config(schema_config) if schema_config else None
        report = provision_campaign(
            ctx.sessions(),
            ctx.settings,
            admin_client(ctx.settings),
            name,
            _study_ids(ctx, study_uids, limit, not_in),
            readers,
            adjudicator,
            senior=senior,
            scheme=scheme,
            seed=seed,
            long_side=long_side,
            schema_config=config,
            workers=ctx.settings.ingest_workers,
        )
    except (CampaignError, ReaderError, SchemaConfigError, LabelStudioError, RolesError, SchemeError) as exc:
        raise _fail(exc) from None
    click.echo(
        f"campaign {name!r} ({scheme}): {report.exams} exams, {report.tasks} sides, {report.images_rendered} images "
        f"rendered ({report.images_cached} cached); projects {report.projects}"
    )
    for line in report.skipped:
        click.echo(f"  skipped: {line}")
    from sgm_app.cli.dagster_events import record_renders

    renders = {"rendered": report.images_rendered, "cached": report.images_cached, "campaign": name}
    if not record_renders({**renders, "long_side": long_side}):
        click.echo("  (DAGSTER_HOME is not set: the renders were not reported to Dagster)")


@campaign_group.command("status")
@click.argument("name")
@pass_cli
def campaign_status_cmd(ctx: CliContext, name: str) -> None:
    """Sides per state, agreement, blinding violations and the adjudication queue."""
    from annotation_ui.adjudication import adjudication_queue
    from annotation_ui.blinding import violation_count
    from annotation_ui.campaigns import CampaignError, campaign_by_name, campaign_status

    with session_scope(ctx.sessions()) as session:
        try:
            campaign = campaign_by_name(session, name)
        except CampaignError as exc:
            raise _fail(exc) from None
        click.echo(
            json.dumps(
                {
                    "campaign": name,
                    "sides": campaign_status(session, campaign.id),
                    "agreement": campaign.agreement,
                    "blinding_violations": violation_count(session, campaign.id),
                    "adjudication_queue": len(adjudication_queue(session, campaign.id)),
                },
                indent=2,
            )
        )


@campaign_group.command("consolidate")
@click.argument("name")
@pass_cli
def campaign_consolidate(ctx: CliContext, name: str) -> None:
    """Pull the reads, verify blinding, queue discordant sides for adjudication, store findings."""
    from annotation_ui.campaigns import CampaignError
    from annotation_ui.client import admin_client
    from annotation_ui.consolidation import consolidate_campaign
    from annotation_ui.server import LabelStudioError

    try:
        report = consolidate_campaign(ctx.sessions(), admin_client(ctx.settings), name, user="cli")
    except (CampaignError, LabelStudioError) as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(report.__dict__, indent=2, default=str))


@campaign_group.command("export")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@pass_cli
def campaign_export(ctx: CliContext, name: str, out: Path) -> None:
    """Write VinDr-Mammo style CSVs and COCO JSON of the consolidated findings (DICOM pixels)."""
    from annotation_ui.campaigns import CampaignError, campaign_by_name
    from annotation_ui.exports import export_campaign

    with session_scope(ctx.sessions()) as session:
        try:
            report = export_campaign(session, campaign_by_name(session, name).id, out, user="cli")
        except CampaignError as exc:
            raise _fail(exc) from None
    click.echo(
        f"{report.images} images, {report.boxes} boxes -> {report.breast_csv}, {report.finding_csv}, {report.coco_json}"
    )


@campaign_group.command("predict")
@click.argument("name")
@click.option("--model", "model_name", required=True, help="Registered model name.")
@click.option(
    "--version",
    "model_version",
    required=True,
    help="Model version whose stored predictions to push, or a registry alias (champion).",
)
@pass_cli
def campaign_predict(ctx: CliContext, name: str, model_name: str, model_version: str) -> None:
    """Push a model version's stored predictions as pre-annotations (only where the scheme shows them)."""
    from annotation_ui.campaigns import CampaignError
    from annotation_ui.client import RequestError, admin_client
    from annotation_ui.preannotations import PreannotationError, push_predictions
    from annotation_ui.server import LabelStudioError
    from sgm_datasets.site import tracking_uri
    from sgm_models.feedback_report import FeedbackError, resolve_version

    try:
        model_version = resolve_version(tracking_uri(ctx.settings), model_name, model_version)
    except FeedbackError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with session_scope(ctx.sessions()) as session:
            report = push_predictions(session, admin_client(ctx.settings), name, model_name, model_version)
    except (CampaignError, PreannotationError, LabelStudioError, RequestError) as exc:
        raise _fail(exc) from None
    click.echo(
        f"{report.model_version}: {report.created} tasks pre-annotated, {report.already_there} already were, "
        f"{report.without_inference} without predictions; projects {list(report.projects)}"
    )


@campaign_group.command("review")
@click.argument("name")
@pass_cli
def campaign_review(ctx: CliContext, name: str) -> None:
    """Queue for senior review every side whose first read is submitted (the gateway does it at each submission)."""
    from annotation_ui.campaigns import CampaignError, campaign_by_name
    from annotation_ui.client import RequestError, admin_client
    from annotation_ui.review import queue_reviews
    from annotation_ui.server import LabelStudioError

    try:
        with session_scope(ctx.sessions()) as session:
            queued = queue_reviews(session, admin_client(ctx.settings), campaign_by_name(session, name))
    except (CampaignError, LabelStudioError, RequestError) as exc:
        raise _fail(exc) from None
    click.echo(f"{queued} sides entered review")


def register(cli: click.Group) -> None:
    for group in (labelstudio_group, readers_group, campaign_group):
        cli.add_command(group)
