"""`sgm users ...`: add users with a role and issue tokens."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from emr_core.audit import AuditRecord, record_event
from emr_core.clinical.roles import Role
from emr_core.clinical.users import create_user, issue_token
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_clinical import User
from sgm_app.cli.context import CliContext, pass_cli


@click.group("users")
def users_group() -> None:
    """API users, roles and tokens."""


def _cli_record(event_type: str, detail: dict[str, str]) -> AuditRecord:
    return AuditRecord(
        event_id=AuditEventId.SECURITY_ALERT,
        action=AuditAction.CREATE,
        event_type=event_type,
        user_id="cli",
        user_role="admin",
        network_address="local",
        detail=detail,
    )


def _read_password(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    secret = lines[0].strip() if lines else ""
    if len(secret) < 8:
        raise click.ClickException(f"{path}: the password on its first line must have at least 8 characters")
    return secret


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="What the user may do.")
@click.option("--password", is_flag=True, help="Also prompt for a password (for the web app and /auth/login).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from the first line of this file instead of prompting (scripts, make run).",
)
@pass_cli
def add(ctx: CliContext, name: str, role: str, password: bool, password_file: Path | None) -> None:
    """Add a user and print their first bearer token (shown once; only its hash is stored)."""
    secret = _read_password(password_file) if password_file else None
    if password and secret is None:
        secret = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope(ctx.sessions()) as session:
        try:
            user = create_user(session, name, role, secret)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        token = issue_token(session, user)
        record_event(session, _cli_record("user_created", {"username": name, "role": role}))
    click.echo(token)


@users_group.command("token")
@click.argument("name")
@pass_cli
def token(ctx: CliContext, name: str) -> None:
    """Issue another token for an existing user and print it."""
    with session_scope(ctx.sessions()) as session:
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        value = issue_token(session, user)
        record_event(session, _cli_record("token_issued", {"username": name}))
    click.echo(value)


@users_group.command("list")
@pass_cli
def listing(ctx: CliContext) -> None:
    """Print users and roles."""
    with session_scope(ctx.sessions()) as session:
        for user in session.scalars(select(User).order_by(User.username)):
            click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")


def register(cli: click.Group) -> None:
    cli.add_command(users_group)
