"""`sgm dataset export | list | show | pull | diff`: versioned, de-identified training datasets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from emr_core.db import session_scope
from emr_core.deid import DeidKeyError, key_path, load_or_create_key
from sgm_app.cli.context import CliContext, pass_cli
from sgm_app.cli.deid_commands import _os_user
from sgm_datasets.errors import DatasetError


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Dataset, key and store failures as one line, never a traceback."""
    try:
        yield
    except (DatasetError, DeidKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")) from None


def _advance(bar: tqdm, total: int) -> None:
    bar.total = total
    bar.update(1)


@click.group("dataset")
def dataset() -> None:
    """Training dataset versions: export, list, show, pull, diff."""


@dataset.command("export")
@click.argument("name")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Processes (default SGM_INGEST_WORKERS).")
@click.option("--long-side", type=click.IntRange(64, 8192), default=1024, show_default=True, help="PNG long side.")
@click.option("--mlflow/--no-mlflow", default=True, show_default=True, help="Log the version in MLflow.")
@pass_cli
def export(ctx: CliContext, name: str, workers: int | None, long_side: int, mlflow: bool) -> None:
    """Write a new version of dataset NAME from the agreed and adjudicated exams (gated by the quality checks)."""
    from sgm_datasets.audit import record_dataset_event
    from sgm_datasets.export import ExportRequest, export_version
    from sgm_datasets.gating import current_gate_failures
    from sgm_datasets.site import site_store
    from sgm_datasets.store import check_name

    settings = ctx.settings
    # Great Expectations logs its start-up at INFO, line after line; the export reports its own progress.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    with _one_line_errors():
        check_name(name)
        store = site_store(settings)
        secret = load_or_create_key(key_path(settings))
        with session_scope(ctx.sessions()) as session:
            failures = current_gate_failures(session, settings)
        with tqdm(unit="image", desc="export", disable=None) as bar:
            request = ExportRequest(
                name=name,
                secret=secret,
                data_root=settings.root,
                user=_os_user(),
                workers=workers or settings.ingest_workers,
                png_long_side=long_side,
                blocking_failures=failures,
                progress=lambda done, total: _advance(bar, total),
            )
            with session_scope(ctx.sessions()) as session:
                result = export_version(session, store, request)
                record_dataset_event(
                    session,
                    "export",
                    request.user,
                    name,
                    result.version,
                    len(result.manifest),
                    store.uri(name, result.version),
                    role="cli",
                )
        if mlflow and result.created:
            from sgm_datasets.mlflow_log import log_version
            from sgm_datasets.site import tracking_uri

            uri = tracking_uri(settings)
            log_version(
                uri, result.manifest, name, result.version, store.uri(name, result.version), result.header["counts"]
            )
            click.echo(f"logged in MLflow at {uri}")
    state = "new version" if result.created else "unchanged, existing version"
    click.echo(f"{state} {name}@{result.version} ({len(result.manifest)} images)")


@dataset.command("list")
@click.argument("name", required=False)
@pass_cli
def list_(ctx: CliContext, name: str | None) -> None:
    """Datasets and their versions, newest last."""
    from sgm_datasets.pull import read_header
    from sgm_datasets.site import site_store

    with _one_line_errors():
        store = site_store(ctx.settings)
        names = [name] if name else store.names()
        rows = [
            (h.get("created_at", ""), n, v, sum(c["images"] for c in h["counts"].values()))
            for n in names
            for v in store.versions(n)
            for h in [read_header(store, n, v)]
        ]
    if not rows:
        click.echo("no dataset versions")
    for created, n, v, images in sorted(rows):
        click.echo(f"{n}@{v[:12]}  {created}  {images} images")


def _summary(header: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{s}: {c['images']} images/{c['patients']} patients" for s, c in header["counts"].items())
    deid = header["deidentification"]
    return [
        f"{header['name']}@{header['version']}",
        f"created {header['created_at']} by {header.get('created_by') or '?'}; parent {header.get('parent') or 'none'}",
        f"code {header['code_version']}; de-identification: {deid['profile']}",
        f"  ({deid['method']}, table {deid['table_edition']})",
        f"splits: {counts}",
        f"dataset checks: {'passed' if header['quality']['dataset']['success'] else 'FAILED'}",
        f"excluded: {len(header['excluded'])}"
        + "".join(f"\n  {e['patient']} {e['what']}: {e['reason']}" for e in header["excluded"]),
        f"files: {len(header['files'])}",
    ]


@dataset.command("show")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--json", "as_json", is_flag=True, help="Print the whole header as JSON.")
@pass_cli
def show(ctx: CliContext, ref: str, as_json: bool) -> None:
    """A version's header: provenance, de-identification, checks, exclusions, counts."""
    from sgm_datasets.pull import parse_ref, read_header, resolve
    from sgm_datasets.site import site_store

    with _one_line_errors():
        store = site_store(ctx.settings)
        name, version = parse_ref(ref)
        header = read_header(store, name, resolve(store, name, version))
    click.echo(json.dumps(header, indent=1, sort_keys=True) if as_json else "\n".join(_summary(header)))


@dataset.command("pull")
@click.argument("ref", metavar="NAME@VERSION")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@pass_cli
def pull(ctx: CliContext, ref: str, dest: Path) -> None:
    """Copy a version into DEST, verifying every file's sha256."""
    from sgm_datasets.audit import record_dataset_event
    from sgm_datasets.pull import parse_ref, pull_version, read_header, resolve
    from sgm_datasets.site import site_store

    user = _os_user()
    with _one_line_errors():
        store = site_store(ctx.settings)
        name, version = parse_ref(ref)
        version = resolve(store, name, version)
        total = sum(f["size"] for f in read_header(store, name, version)["files"])
        try:
            with tqdm(total=total, unit="B", unit_scale=True, desc="pull", disable=None) as bar:
                report = pull_version(store, name, version, dest, progress=bar.update)
        except DatasetError as exc:
            with session_scope(ctx.sessions()) as session:
                record_dataset_event(session, "pull", user, name, version, 0, str(dest), role="cli", failed=str(exc))
            raise
        with session_scope(ctx.sessions()) as session:
            record_dataset_event(session, "pull", user, name, version, report.files, str(dest.resolve()), role="cli")
    click.echo(f"pulled {name}@{version} into {dest}: {report.files} files verified")


@dataset.command("diff")
@click.argument("a", metavar="NAME@VERSION")
@click.argument("b", metavar="NAME@VERSION")
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True, help="Items listed per kind.")
@pass_cli
def diff(ctx: CliContext, a: str, b: str, limit: int) -> None:
    """Images and labels added, removed and changed from A to B."""
    from sgm_datasets.diff import diff_manifests
    from sgm_datasets.export import MANIFEST
    from sgm_datasets.manifest import from_parquet
    from sgm_datasets.pull import parse_ref, resolve
    from sgm_datasets.site import site_store

    with _one_line_errors():
        store = site_store(ctx.settings)
        frames = []
        for ref in (a, b):
            name, version = parse_ref(ref)
            frames.append(from_parquet(store.read(name, resolve(store, name, version), MANIFEST)))
    result = diff_manifests(*frames)
    for kind, items in vars(result).items():
        click.echo(f"{kind.replace('_', ' ')}: {len(items)}")
        for item in items[:limit]:
            click.echo(f"  {item}")
    if result.empty:
        click.echo("no differences")


def register(cli: click.Group) -> None:
    cli.add_command(dataset)
