"""`sgm deidentify IN OUT`: de-identified copies of DICOM files for sharing outside a dataset."""

from __future__ import annotations

import getpass
import importlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sgm_app.cli.context import CliContext, pass_cli

# The command imports its libraries when it runs, so `--help` (and every other sgm command, which
# imports this module for `_os_user`) pays for none of them.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from emr_core.audit import AuditRecord
    from emr_core.deid import DeidResult


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def _export_records(results: Sequence[DeidResult], out: Path) -> list[AuditRecord]:
    """One Export (110106) event per study released, and one for the files refused."""
    from emr_core.audit import AuditRecord
    from emr_core.enums import AuditAction, AuditEventId, AuditOutcome

    user = _os_user()
    per_study = Counter((r.patient_ref, r.study_uid, r.pseudonym) for r in results if r.ok)
    records = [
        AuditRecord(
            event_id=AuditEventId.EXPORT,
            action=AuditAction.READ,
            event_type="deidentify",
            user_id=user,
            user_role="cli",
            network_address="local",
            patient_ref=patient_ref,
            study_uid=study_uid[:64],
            instance_count=count,
            detail={"destination": str(out), "pseudonym": pseudonym},
        )
        for (patient_ref, study_uid, pseudonym), count in sorted(per_study.items())
    ]
    failed = [r for r in results if not r.ok]
    if failed:
        records.append(
            AuditRecord(
                event_id=AuditEventId.EXPORT,
                action=AuditAction.READ,
                event_type="deidentify",
                outcome=AuditOutcome.MINOR_FAILURE,
                user_id=user,
                user_role="cli",
                network_address="local",
                instance_count=len(failed),
                detail={"destination": str(out), "excluded": len(failed)},
            )
        )
    return records


def _audit(sessions: sessionmaker[Session], results: Sequence[DeidResult], out: Path) -> None:
    from emr_core.audit import record_events
    from emr_core.db import session_scope

    with session_scope(sessions) as session:
        record_events(session, _export_records(results, out))


@click.command("deidentify")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=lambda: os.cpu_count() or 1,
    show_default="all cores",
    help="Worker processes.",
)
@pass_cli
def deidentify_command(ctx: CliContext, source: Path, out: Path, workers: int) -> None:
    """De-identify DICOM files under SOURCE (a file or a folder, recursively) into OUT.

    DICOM PS3.15 Annex E basic profile with the options Retain Longitudinal Temporal
    Information with Modified Dates, Retain Patient Characteristics and Clean Descriptors.
    The same patient gets the same pseudonym, date shift and UIDs in every run: they are
    derived from the site secret (SGM_DEID_KEY_FILE, default secrets/deid.key in SGM_HOME),
    which never leaves the data folder. Copies are written as OUT/<pseudonym>/<study>/<sop>.dcm.
    Files with burned-in annotation, without a PatientID, or not DICOM are excluded and
    listed with their reason; the exit code is then 1. Every run is audited as an Export event.
    """
    from tqdm import tqdm

    from emr_core.deid import DeidKeyError, DeidWorkers, find_files, key_path, load_or_create_key

    key = key_path(ctx.settings)
    # The site secret is made on the first run only once the database is known to be usable, so that a
    # run against the wrong data folder or an unmigrated database leaves no stray secret behind.
    sessions = None if key.exists() else ctx.sessions()
    try:
        secret = load_or_create_key(key)
    except DeidKeyError as exc:
        raise click.ClickException(str(exc)) from None
    files = find_files([source], skip=out)
    # The workers load the DICOM stack while this process loads the database's; no file goes to them
    # before the database is known to take the audit trail (no export without it).
    with DeidWorkers(secret, out, min(workers, len(files) or 1)) as pool:
        sessions = sessions or ctx.sessions()
        importlib.import_module("emr_core.audit")  # its ORM models, loaded while the workers still load
        with tqdm(total=len(files), unit="file", desc="deidentify", disable=None) as bar:
            results = list(pool.run(files, progress=lambda _: bar.update()))
    _audit(sessions, results, out)
    failed = [r for r in results if not r.ok]
    for result in failed:
        click.echo(f"excluded {result.source}: {result.reason}")
    studies = len({r.study_uid for r in results if r.ok})
    click.echo(f"de-identified {len(results) - len(failed)} file(s) of {studies} study(ies); excluded {len(failed)}")
    if failed:
        raise click.exceptions.Exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(deidentify_command)
