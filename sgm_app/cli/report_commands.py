"""`sgm report ...` and `sgm tasks followup`: operational reports and the follow-up rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.followup import evaluate_followup
from emr_core.clinical.reports import operations_report, render_csv, render_html
from emr_core.clinical.rules import RulesError, load_rules
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import utcnow
from sgm_app.cli.context import CliContext, pass_cli


def _day(_: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param=param) from None


@click.command("report")
@click.option("--from", "start", callback=_day, help="First day, YYYY-MM-DD (default: 30 days ago).")
@click.option("--to", "end", callback=_day, help="Last day, included (default: today).")
@click.option("--format", "fmt", type=click.Choice(["csv", "html"]), default="csv", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output)."
)
@pass_cli
def report(ctx: CliContext, start: date | None, end: date | None, fmt: str, out: Path | None) -> None:
    """Activity per user and day, ingest volume, reading throughput, open and overdue tasks."""
    today = utcnow().date()
    end = end or today
    start = start or end - timedelta(days=30)
    with session_scope(ctx.sessions()) as session:
        tables = operations_report(session, start, end, today)
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.EXPORT,
                action=AuditAction.EXECUTE,
                event_type="operations_report",
                user_id="cli",
                network_address="local",
                detail={"from": str(start), "to": str(end), "format": fmt},
            ),
        )
    text = render_csv(tables) if fmt == "csv" else render_html(tables, start, end)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@click.group("tasks")
def tasks_group() -> None:
    """Clinical tasks and the follow-up rules."""


@tasks_group.command("followup")
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rules YAML (default: SGM_FOLLOWUP_RULES or the shipped BI-RADS rules).",
)
@pass_cli
def followup(ctx: CliContext, rules: Path | None) -> None:
    """Evaluate the follow-up rules now (the nightly Dagster run does the same)."""
    try:
        rule_set = load_rules(rules, ctx.settings)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    with session_scope(ctx.sessions()) as session:
        result = evaluate_followup(session, rule_set)
    click.echo(result)


def register(cli: click.Group) -> None:
    cli.add_command(report)
    cli.add_command(tasks_group)
