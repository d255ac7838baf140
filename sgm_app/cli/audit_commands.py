"""`sgm audit ...`: verify the hash chain, export a date range."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from emr_core.audit import AuditRecord, record_event
from emr_core.audit_seal import AuditKeyError, CheckpointFile, load_key
from emr_core.audit_verify import VerifyReport, verify_audit_log
from emr_core.clinical.audit_export import audit_rows, to_csv, to_json
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import AuditEvent
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
@click.option(
    "--against",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The audit record repository's copy: a syslog file holding the AuditMessages (repeat for rotated files).",
)
@click.option("--quiet", is_flag=True, help="Print only the one-line summary.")
@pass_cli
def verify(ctx: CliContext, against: tuple[Path, ...], quiet: bool) -> None:
    """Check the keyed chain, the signed checkpoints and (with --against) the external copy; exit 1 on tampering."""
    settings = ctx.settings
    if not settings.audit_key_path.exists() and not against and _never_used(ctx):
        _record_verify(ctx, VerifyReport())  # this first event creates the key
        click.echo("audit log empty: nothing recorded yet")
        return
    try:
        key = load_key(settings.audit_key_path, create=False)
        checkpoints = CheckpointFile(settings.audit_checkpoint_path, key)
        with session_scope(ctx.sessions()) as session:
            report = verify_audit_log(session, key, checkpoints, against)
    except (AuditKeyError, OSError, SQLAlchemyError, ValueError, TypeError) as exc:
        # A row damaged beyond reading (bad JSON, a date that is not one) is itself reported, never a traceback.
        raise click.ClickException(f"cannot verify the audit log: {_one_line(exc)}") from None
    _record_verify(ctx, report)
    if not quiet:
        for line in report.problems:
            click.echo(line)
        for line in report.notes:
            click.echo(f"note: {line}")
    click.echo(report.summary())
    if not report.intact:
        raise click.exceptions.Exit(1)


def _never_used(ctx: CliContext) -> bool:
    """A new installation: no event in the database and no checkpoint outside it (a lost key is not this)."""
    if ctx.settings.audit_checkpoint_path.exists():
        return False
    try:
        with session_scope(ctx.sessions()) as session:
            return session.scalar(select(AuditEvent.id).limit(1)) is None
    except SQLAlchemyError:
        return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _record_verify(ctx: CliContext, report: VerifyReport) -> None:
    """Audit the check itself; recorded after verifying, so it is never part of what was checked."""
    outcome = AuditOutcome.SUCCESS if report.intact else AuditOutcome.SERIOUS_FAILURE
    try:
        with session_scope(ctx.sessions()) as session:
            record_event(session, _record("audit_verify", outcome, {"problems": len(report.problems)}))
    except SQLAlchemyError as exc:  # a damaged log must still be reported
        click.echo(f"warning: could not record this verification: {_one_line(exc)}", err=True)


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
