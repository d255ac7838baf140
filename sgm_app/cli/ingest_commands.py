"""`sgm ingest PATH...`: copy DICOM files into managed storage and index their headers."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from emr_core.dicom.ingest import collect_files, ingest_paths
from emr_core.dicom.ingest_audit import IngestAudit
from emr_core.objectstore import ObjectStoreError
from sgm_app.cli.context import CliContext, pass_cli


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--move",
    is_flag=True,
    help="Delete each source file once it is safely stored, quarantined or known "
    "as a duplicate (use for the incoming folder).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes reading headers and copying [default: SGM_INGEST_WORKERS].",
)
@pass_cli
def ingest_command(ctx: CliContext, paths: tuple[Path, ...], move: bool, workers: int | None) -> None:
    """Ingest DICOM files and folders (recursively) into the data folder.

    Each file is indexed from its header only and copied to
    storage/<study>/<series>/<sop>.dcm (or that key under SGM_STORAGE_URL, e.g.
    s3://bucket/prefix). Files that are not DICOM, are truncated or lack
    their UIDs go to the quarantine folder with a reason; a known SOP Instance UID with
    other bytes is kept under conflicts/. Re-ingesting the same files changes nothing.
    The exit code is 0 even when files were quarantined: they are listed at the end.
    """
    settings = ctx.settings
    if workers is not None:
        settings = settings.model_copy(update={"ingest_workers": workers})
    sessions = ctx.sessions()
    files = collect_files(paths)
    with tqdm(total=len(files), unit="file", desc="ingest", disable=None) as bar:
        try:
            report = ingest_paths(
                sessions, settings, files, progress=bar.update, move=move, audit=IngestAudit.of("cli", paths)
            )
        except ObjectStoreError as exc:
            raise click.ClickException(str(exc)) from None
    for item in report.quarantined_files:
        click.echo(f"quarantined {item.source_path}: {item.reason} ({item.detail}) -> {item.path}")
    click.echo(report.summary())


def register(cli: click.Group) -> None:
    cli.add_command(ingest_command)
