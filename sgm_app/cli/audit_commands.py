"""`sgm audit ...`: verify the hash chain, export a date range."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from emr_core.audit import AuditRecord, record_event, verify_chain
from emr_core.clinical.audit_export import audit_rows, to_csv, to_json
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from sgm_app.cli.context import CliContext, pass_cli


def _record(event_type: str, outcome: int, detail: dict[str, object]) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.AUDIT_LOG_USED,
        action=AuditAction.EXECUTE,
        event_type=event_type,
        outcome=outcome,
        user_id="cli",
        network_address="local",
        detail=detail,
    )


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@pass_cli
def verify(ctx: CliContext) -> None:
    """Recompute the chain; exit 1 and list every edited, inserted or deleted row."""
    with session_scope(ctx.sessions()) as session:
        problems = verify_chain(session)
    with session_scope(ctx.sessions()) as session:
        # Recorded after verifying, so this event itself is never part of what was checked.
        record_event(
            session,
            _record(
                "audit_verify",
                AuditOutcome.SUCCESS if not problems else AuditOutcome.SERIOUS_FAILURE,
                {"problems": len(problems)},
            ),
        )
    if not problems:
        click.echo("audit log intact")
        return
    for problem in problems:
        click.echo(f"event {problem.event_id}: {problem.problem}")
    raise click.exceptions.Exit(1)


def _day(_: click.Context, param: click.Parameter, value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param=param) from None


@audit_group.command("export")
@click.option("--from", "start", required=True, callback=_day, help="First day (UTC), YYYY-MM-DD.")
@click.option("--to", "end", required=True, callback=_day, help="Last day (UTC, included), YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output)."
)
@pass_cli
def export(ctx: CliContext, start: date, end: date, fmt: str, out: Path | None) -> None:
    """Export the events of a date range with every hashed field."""
    if end < start:
        raise click.BadParameter("must not be before --from", param_hint="--to")
    with session_scope(ctx.sessions()) as session:
        rows = audit_rows(session, start, end)
        text = to_json(rows) if fmt == "json" else to_csv(rows)
        record_event(
            session, _record("audit_export", AuditOutcome.SUCCESS, {"from": str(start), "to": str(end), "format": fmt})
        )
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)
