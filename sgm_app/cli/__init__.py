"""The `sgm` command line: one click group, subcommands registered from small modules."""

from __future__ import annotations

import logging

import click

from emr_core.settings import ConfigError, load_settings
from sgm_app.cli.context import CliContext


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    # Imported here so that each module can import `cli` without a cycle.
    from sgm_app.cli import (
        annotation_commands,
        api_commands,
        audit_commands,
        dataset_commands,
        db_commands,
        deid_commands,
        demo_commands,
        dicom_commands,
        gateway_commands,
        ingest_commands,
        link_commands,
        model_commands,
        quarantine_commands,
        report_commands,
        status_commands,
        user_commands,
    )

    for module in (
        db_commands,
        demo_commands,
        ingest_commands,
        link_commands,
        status_commands,
        api_commands,
        audit_commands,
        report_commands,
        user_commands,
        annotation_commands,
        dicom_commands,
        quarantine_commands,
        deid_commands,
        dataset_commands,
        model_commands,
        gateway_commands,
    ):
        module.register(cli)


def main() -> None:
    _register()
    cli()
