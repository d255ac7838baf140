"""The `sgm` command line: one click group, subcommands registered from small modules."""

from __future__ import annotations

import importlib
import logging

import click

from emr_core.settings import ConfigError, load_settings
from sgm_app.cli.context import CliContext

# Subcommand -> the module that registers it. A command's module is imported only when that command
# runs (or help lists it): `sgm deidentify` must not pay for SQLAlchemy, Alembic, Dagster or pandas
# it does not use. tests/sgm_app/test_cli_lazy.py checks this table against the modules.
COMMANDS = {
    "api": "api_commands",
    "audit": "audit_commands",
    "campaign": "annotation_commands",
    "dataset": "dataset_commands",
    "db": "db_commands",
    "deidentify": "deid_commands",
    "demo": "demo_commands",
    "demo-data": "demo_commands",
    "dicom": "dicom_commands",
    "gateway": "gateway_commands",
    "ingest": "ingest_commands",
    "labelstudio": "annotation_commands",
    "link": "link_commands",
    "model": "model_commands",
    "pacs": "dicom_commands",
    "patients": "link_commands",
    "predict": "predict_commands",
    "quarantine": "quarantine_commands",
    "readers": "annotation_commands",
    "report": "report_commands",
    "status": "status_commands",
    "tasks": "report_commands",
    "users": "user_commands",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, from the COMMANDS table."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"sgm_app.cli.{COMMANDS[cmd_name]}").register(self)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Mammography data platform: EMR, DICOM ingest, patient linking.

    State lives in the data folder SGM_HOME (default ./.sgm); the database is
    SGM_DATABASE_URL (default SQLite in the data folder).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = CliContext(load_settings())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _register() -> None:
    """Register every subcommand now (tests and tools that inspect the whole command tree)."""
    for module in sorted(set(COMMANDS.values())):
        importlib.import_module(f"sgm_app.cli.{module}").register(cli)


def main() -> None:
    cli()
