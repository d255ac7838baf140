"""`sgm status`: what the platform holds."""

from __future__ import annotations

import json

import click

from emr_core.db import session_scope
from emr_core.status import PlatformStatus, platform_status
from sgm_app.cli.context import CliContext, pass_cli


def _render(status: PlatformStatus) -> str:
    def grouped(values: dict[str, int]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(values.items())) or "none"

    return "\n".join(
        [
            f"patients      {status.patients} ({status.provisional_patients} provisional)",
            f"studies       {status.studies} ({status.unlinked_studies} not linked)",
            f"instances     {status.instances} by modality: {grouped(status.instances_by_modality)}",
            f"quarantined   {sum(status.quarantined_by_reason.values())} "
            f"by reason: {grouped(status.quarantined_by_reason)}",
            f"conflicts     {status.conflicts}",
            f"links         {grouped(status.links_by_method)}",
            f"review queue  {status.review_queue}",
        ]
    )


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def status(ctx: CliContext, as_json: bool) -> None:
    """Summarise patients, studies, instances, quarantine, conflicts, links and the review queue."""
    with session_scope(ctx.sessions()) as session:
        summary = platform_status(session)
    click.echo(json.dumps(summary.as_dict(), indent=2) if as_json else _render(summary))


def register(cli: click.Group) -> None:
    cli.add_command(status)
