"""`sgm db ...`: schema migrations."""

from __future__ import annotations

import click

from emr_core.migrate import current_revision, head_revision, upgrade
from sgm_app.cli.context import CliContext, pass_cli


@click.group("db")
def db_group() -> None:
    """Manage the EMR database schema (Alembic migrations)."""


@db_group.command("upgrade")
@pass_cli
def db_upgrade(ctx: CliContext) -> None:
    """Migrate the database to the latest schema (safe to re-run)."""
    before = current_revision(ctx.engine)
    upgrade(ctx.engine)
    after = current_revision(ctx.engine)
    url = ctx.engine.url.render_as_string()
    if before == after:
        click.echo(f"database {url} already at revision {after}")
    else:
        click.echo(f"database {url} migrated from {before or 'empty'} to {after}")


@db_group.command("current")
@pass_cli
def db_current(ctx: CliContext) -> None:
    """Print the schema revision of the database and the latest one."""
    click.echo(f"current: {current_revision(ctx.engine)}  head: {head_revision(ctx.engine)}")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
