"""`sgm patients ...` and `sgm link ...`: registry import, study linking, review queue."""

from __future__ import annotations

import json
from pathlib import Path

import click

from emr_core.db import session_scope
from emr_core.linking import decide, import_registry, link_studies, review_queue
from emr_core.linking.review import ReviewItem
from sgm_app.cli.context import CliContext, pass_cli


@click.group("patients")
def patients_group() -> None:
    """Manage EMR patients (the hospital registry)."""


@patients_group.command("import")
@click.argument("registry", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
def patients_import(ctx: CliContext, registry: Path) -> None:
    """Upsert patients from REGISTRY.csv (safe to re-run).

    Columns: patient_id, issuer, full_name, birth_date, sex, accession_numbers
    (accession numbers ';'-joined). Bad rows are reported with their line number
    and skipped; the rest is imported.
    """
    try:
        with session_scope(ctx.sessions()) as session:
            report = import_registry(session, registry, actor="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged; accessions {report.accessions_added} added, "
        f"{report.accessions_moved} moved; {len(report.errors)} rejected"
    )
    for line, reason in report.errors:
        click.echo(f"  line {line}: {reason}", err=True)


@click.group("link")
def link_group() -> None:
    """Link DICOM studies to EMR patients and work through the review queue."""


@link_group.command("run")
@click.option(
    "--all",
    "all_studies",
    is_flag=True,
    help="Re-examine every study except manual decisions (default: only new "
    "studies and review items whose inputs changed).",
)
@pass_cli
def link_run(ctx: CliContext, all_studies: bool) -> None:
    """Link studies by identifier, accession number, then name + birth date + sex.

    Unclear cases go to the review queue; studies of people unknown to the
    registry get a provisional patient. Re-running changes nothing.
    """
    report = link_studies(ctx.sessions(), only_pending=not all_studies, progress=True)
    by_method = ", ".join(f"{m}: {n}" for m, n in sorted(report.linked.items())) or "none"
    click.echo(
        f"{report.examined} studies examined in {report.seconds:.1f} s: "
        f"{report.total_linked} linked ({by_method}), {report.review} to review, "
        f"{report.provisional_patients} provisional patients created, "
        f"{report.unchanged} unchanged"
    )


@link_group.command("review")
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N items.")
@pass_cli
def link_review(ctx: CliContext, as_json: bool, limit: int | None) -> None:
    """List studies waiting for a decision, with their candidate patients."""
    with session_scope(ctx.sessions()) as session:
        items = review_queue(session, limit=limit)
    if as_json:
        click.echo(json.dumps([item.to_json() for item in items], indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo("review queue is empty")
        return
    for item in items:
        click.echo(_render_item(item))


def _render_item(item: ReviewItem) -> str:
    """A study block: header line, reasons, one table row per candidate."""
    h = item.header
    lines = [
        f"{item.study_uid}  id={h.get('issuer') or '-'}:{h.get('patient_id') or '-'}  "
        f"name={h.get('name')!r}  born={h.get('birth_date')}  sex={h.get('sex')}  "
        f"accession={h.get('accession') or '-'}"
    ]
    lines += [f"  reason: {r}" for r in item.reasons]
    lines.append(
        f"  {'patient':>8}  {'score':>5}  {'name':>4}  {'birth date':<10} {'match':<9} "
        f"{'via':<26} name key / identifiers"
    )
    for c in item.candidates:
        lines.append(
            f"  {c['patient_id']:>8}  {c['score']:>5.2f}  {c['name_similarity']:>4.2f}  "
            f"{c['birth_date'] or '-':<10} {c['birth_date_match']:<9} {c['via']:<26} "
            f"{c['name_key']} {' '.join(c['identifiers'])}"
        )
    return "\n".join(lines)


@link_group.command("decide")
@click.argument("study_uid")
@click.option("--patient", "patient_id", type=int, help="EMR patient id to link the study to.")
@click.option("--new-patient", is_flag=True, help="Create a new patient from the study header.")
@click.option("--by", "decided_by", default="cli", show_default=True, help="Who decided (kept with the decision).")
@pass_cli
def link_decide(ctx: CliContext, study_uid: str, patient_id: int | None, new_patient: bool, decided_by: str) -> None:
    """Record a manual decision for STUDY_UID; later runs never overwrite it."""
    if (patient_id is None) == (not new_patient):
        raise click.UsageError("give exactly one of --patient ID or --new-patient")
    try:
        with session_scope(ctx.sessions()) as session:
            decision = decide(session, study_uid, patient_id, decided_by)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"study {study_uid} linked to patient {decision.patient_id} by {decided_by}")


def register(cli: click.Group) -> None:
    cli.add_command(patients_group)
    cli.add_command(link_group)
