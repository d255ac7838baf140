"""`sgm dicom serve` (the storage receiver) and `sgm pacs echo|find|pull` (query/retrieve)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click
from tqdm import tqdm

from emr_core.dimse.config import ReceiverConfig, parse_callers
from emr_core.objectstore import ObjectStoreError
from sgm_app.cli.context import CliContext, pass_cli


@click.group("dicom")
def dicom_group() -> None:
    """The DICOM network interface of the EMR (C-ECHO and C-STORE receiver)."""


@dicom_group.command("serve")
@click.option("--ae-title", help="Our AE title [default: SGM_DICOM_AE_TITLE or SGM].")
@click.option("--host", help="Bind address [default: SGM_DICOM_HOST or 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="Port [default: SGM_DICOM_PORT or 11112; 0 = any free].")
@click.option(
    "--allowed-callers",
    help="Comma-separated calling AE titles to accept [default: SGM_DICOM_ALLOWED_CALLERS; empty = any].",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Listening processes sharing the port (SO_REUSEPORT); >1 helps parallel senders.",
)
@click.option(
    "--max-pdu",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Largest PDU we negotiate, in bytes; 0 = none (fastest; SGM_DICOM_MAX_PDU_CAP still bounds it).",
)
@click.option("--plain-transport", is_flag=True, help="Use pynetdicom's own socket reads (slower; for comparison).")
@click.option(
    "--in-memory", is_flag=True, help="Assemble each data set in memory, then write it (slower; for comparison)."
)
@click.option(
    "--no-early-writeback",
    is_flag=True,
    help="Leave all disk writing to the fsync before each answer (slower; for comparison).",
)
@click.option(
    "--writer-thread",
    is_flag=True,
    help="Write fragments on a separate thread (measured slower on 2 busy cores; for comparison).",
)
@pass_cli
def serve_command(
    ctx: CliContext,
    ae_title: str | None,
    host: str | None,
    port: int | None,
    allowed_callers: str | None,
    processes: int,
    max_pdu: int,
    plain_transport: bool,
    in_memory: bool,
    no_early_writeback: bool,
    writer_thread: bool,
) -> None:
    """Receive DICOM objects (C-STORE) and answer C-ECHO, in the foreground until Ctrl-C.

    Each instance is written durably to <SGM_HOME>/incoming/dimse before it is acknowledged,
    then indexed, linked and audited by a worker process. Files left by a crash are
    ingested at start-up. Accepts the mammography and all other storage SOP classes in
    implicit/explicit little endian, deflated, JPEG, JPEG-LS, JPEG 2000 and RLE, stored as received.
    Limits and timeouts (ARTIM, network, connections, PDU cap): the SGM_DICOM_* settings.
    """
    from emr_core.dimse.receiver import Receiver

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # a line per C-STORE otherwise
    ctx.sessions()  # refuse to start on a database that is not migrated
    overrides: dict[str, Any] = {
        "processes": processes,
        "max_pdu": max_pdu,
        "fast_transport": not plain_transport,
        "stream_to_disk": not in_memory,
        "early_writeback": not no_early_writeback,
        "background_writes": writer_thread,
    }
    for key, value in (("ae_title", ae_title), ("host", host), ("port", port)):
        if value is not None:
            overrides[key] = value
    if allowed_callers is not None:
        overrides["allowed_callers"] = parse_callers(allowed_callers)
    receiver = Receiver(ctx.settings, ReceiverConfig.from_settings(ctx.settings, **overrides))
    stop = _stop_on_signal()  # before start: a Ctrl-C while starting still stops cleanly
    try:
        receiver.start()
    except ObjectStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{receiver.config.ae_title} listening on {receiver.config.host}:{receiver.port} "
        f"(spool {receiver.config.spool_dir}); Ctrl-C stops",
        err=True,
    )
    while not stop.wait(1.0):
        pass
    click.echo("stopping: finishing open associations and queued ingest", err=True)
    receiver.stop()


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.group("pacs")
@click.option("--ae-title", help="The PACS AE title [default: SGM_PACS_AE_TITLE].")
@click.option("--host", help="The PACS host [default: SGM_PACS_HOST].")
@click.option("--port", type=click.IntRange(1, 65535), help="The PACS port [default: SGM_PACS_PORT].")
@pass_cli
def pacs_group(ctx: CliContext, ae_title: str | None, host: str | None, port: int | None) -> None:
    """Query and retrieve from the configured PACS (we call as SGM_DICOM_AE_TITLE).

    The PACS must know our AE title; for C-MOVE it must also know the host and port of our
    receiver (`sgm dicom serve`), which must be running.
    """
    updates = {k: v for k, v in (("pacs_ae_title", ae_title), ("pacs_host", host), ("pacs_port", port)) if v}
    ctx.settings = ctx.settings.model_copy(update=updates)


def _client(ctx: CliContext) -> Any:
    from emr_core.dimse.pacs import PacsClient

    return PacsClient(ctx.settings, ctx.sessions())


def _query_options(fn: Any) -> Any:
    fn = click.option("--patient-id", default="", help="Patient ID (wildcards * and ? allowed).")(fn)
    fn = click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First study date (YYYY-MM-DD).")(
        fn
    )
    fn = click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last study date (YYYY-MM-DD).")(fn)
    fn = click.option("--modality", default="MG", show_default=True, help="Modality in study; '' for any.")(fn)
    return fn


def _query(patient_id: str, date_from: Any, date_to: Any, modality: str) -> Any:
    from emr_core.dimse.pacs import StudyQuery

    return StudyQuery(patient_id, date_from and date_from.date(), date_to and date_to.date(), modality)


@pacs_group.command("echo")
@pass_cli
def echo_command(ctx: CliContext) -> None:
    """Check that the PACS answers (C-ECHO)."""
    from emr_core.dimse.scu import DimseError

    client = _client(ctx)
    try:
        status = client.echo()
    except DimseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{client.peer}: C-ECHO status 0x{status:04X}")
    if status:
        raise SystemExit(1)


@pacs_group.command("find")
@_query_options
@click.option("--level", type=click.Choice(["study", "patient"]), default="study", show_default=True)
@click.option("--name", default="", help="Patient name, patient level only (e.g. 'NGUYEN*').")
@pass_cli
def find_command(
    ctx: CliContext, patient_id: str, date_from: Any, date_to: Any, modality: str, level: str, name: str
) -> None:
    """List studies (by patient ID, date range, modality) or patients on the PACS (C-FIND)."""
    from emr_core.dimse.scu import DimseError

    client = _client(ctx)
    try:
        if level == "patient":
            for p in client.find_patients(patient_id, name):
                click.echo(f"{p.patient_id}\t{p.patient_name}\t{p.birth_date}\t{p.sex}\tstudies={p.studies}")
            return
        for s in client.find_studies(_query(patient_id, date_from, date_to, modality)):
            click.echo(
                f"{s.study_uid}\t{s.patient_id}\t{s.study_date}\t{s.accession_number}\t"
                f"instances={s.instances}\t{s.description}"
            )
    except DimseError as exc:
        raise click.ClickException(str(exc)) from None


@pacs_group.command("pull")
@_query_options
@click.option("--study", "study_uids", multiple=True, help="Pull this Study Instance UID (repeatable).")
@click.option(
    "--method",
    type=click.Choice(["move", "get"]),
    default="move",
    show_default=True,
    help="C-MOVE to our running receiver, or C-GET on this connection.",
)
@pass_cli
def pull_command(
    ctx: CliContext,
    patient_id: str,
    date_from: Any,
    date_to: Any,
    modality: str,
    study_uids: tuple[str, ...],
    method: str,
) -> None:
    """Retrieve the matching studies that we do not hold yet (held studies are skipped).

    Example: sgm pacs pull --from 2024-03-01 --to 2024-03-31 --modality MG
    """
    from emr_core.dimse.pacs import StudyMatch
    from emr_core.dimse.scu import DimseError

    client = _client(ctx)
    try:
        studies = (
            [StudyMatch(uid) for uid in study_uids]
            if study_uids
            else client.find_studies(_query(patient_id, date_from, date_to, modality))
        )
        total = sum(s.instances or 0 for s in studies) or None
        with tqdm(total=total, unit="img", desc=f"pull ({method})", disable=None) as bar:
            report = client.pull(studies, method, progress=bar.update)
    except DimseError as exc:
        raise click.ClickException(str(exc)) from None
    for uid, problem in report.failed.items():
        click.echo(f"failed {uid}: {problem}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(dicom_group)
    cli.add_command(pacs_group)
