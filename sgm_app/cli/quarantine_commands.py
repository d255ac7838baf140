"""`sgm quarantine list|resolve`: look at quarantined files and re-ingest or dismiss them, audited."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from pathlib import Path

import click

from emr_core.db import session_scope
from emr_core.dicom.quarantine_resolution import ResolutionError, dismiss, list_quarantined, reingest
from sgm_app.cli.context import CliContext, pass_cli


@click.group("quarantine")
def quarantine_group() -> None:
    """Files that could not be ingested: list them, re-ingest or dismiss them."""


@quarantine_group.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include files already resolved.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@pass_cli
def quarantine_list(ctx: CliContext, include_resolved: bool, as_json: bool) -> None:
    """List quarantined files (unresolved only unless --all), oldest first."""
    with session_scope(ctx.sessions()) as session:
        items = list_quarantined(session, include_resolved)
    if as_json:
        click.echo(json.dumps([asdict(i) for i in items], indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo("no quarantined files" if include_resolved else "no unresolved quarantined files")
        return
    for i in items:
        state = i.resolution or "open"
        click.echo(f"{i.id:>6}  {state:<10} {i.reason:<12} {i.quarantined_at}  {i.source_path}  ({i.detail})")


@quarantine_group.command("resolve")
@click.argument("quarantine_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--action", type=click.Choice(["reingest", "dismiss"]), required=True, help="What to do with the file.")
@click.option("--reason", required=True, help="Why (kept in the quarantine record and the audit log).")
@click.option(
    "--file",
    "replacement",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="reingest: a corrected copy to ingest instead of the quarantined bytes.",
)
@click.option("--user", default=None, help="Who decides [default: the login name].")
@pass_cli
def quarantine_resolve(
    ctx: CliContext, quarantine_id: int, action: str, reason: str, replacement: Path | None, user: str | None
) -> None:
    """Re-ingest or dismiss quarantined file ID; the decision is audited and the gate stops counting it."""
    who = user or getpass.getuser()
    if replacement is not None and action != "reingest":
        raise click.UsageError("--file goes with --action reingest")
    sessions = ctx.sessions()
    try:
        if action == "dismiss":
            with session_scope(sessions) as session:
                dismiss(session, quarantine_id, reason, who)
            click.echo(f"quarantine item {quarantine_id} dismissed")
            return
        done = reingest(sessions, ctx.settings, quarantine_id, reason, who, replacement)
    except ResolutionError as exc:
        raise click.ClickException(str(exc)) from None
    assert done.ingest is not None
    click.echo(f"quarantine item {quarantine_id} re-ingested: {done.ingest.summary()}")


def register(cli: click.Group) -> None:
    cli.add_command(quarantine_group)
