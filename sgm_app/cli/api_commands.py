"""`sgm api serve`: the EMR REST API on loopback."""

from __future__ import annotations

import click

from sgm_app.cli.context import CliContext, pass_cli


@click.group("api")
def api_group() -> None:
    """The EMR REST API (OpenAPI documentation at /docs)."""


KEEP_ALIVE_SECONDS = 75


@api_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port; default SGM_API_PORT or 8000.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Server processes; above 1, nginx in front hands each request to the least busy one.",
)
@pass_cli
def serve(ctx: CliContext, host: str, port: int | None, workers: int) -> None:
    """Serve the API until interrupted; the database must be migrated (`sgm db upgrade`)."""
    import uvicorn

    ctx.sessions()  # refuses an unmigrated database with a clear message before binding the port
    chosen = port or ctx.settings.api_port
    started = f"EMR API on http://{host}:{chosen} (docs at /docs), database {ctx.engine.url.render_as_string()}"
    if workers > 1:
        raise SystemExit(_serve_behind_nginx(ctx, host, chosen, workers, started))
    click.echo(started)
    # The factory re-reads settings from the environment, as the processes behind nginx do.
    uvicorn.run(
        "sgm_app.api.serve:app_from_environment",
        factory=True,
        host=host,
        port=chosen,
        log_level="info",
        access_log=False,
        # Longer than clients and proxies keep an idle connection (httpx 5 s, nginx upstream 60 s): with
        # uvicorn's 5 s, the server closed connections a client was just reusing and ~1 request in 4,000
        # failed with a read error under 50 concurrent clients.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def _serve_behind_nginx(ctx: CliContext, host: str, port: int, workers: int, started: str) -> int:
    from sgm_app import api_front
    from sgm_app.nginx import NginxError

    with api_front.private_folder() as folder:
        layout = api_front.FrontLayout(folder, host, port, workers, KEEP_ALIVE_SECONDS)
        try:
            return api_front.serve(layout, f"{started}; {workers} processes behind nginx")
        except NginxError as exc:
            raise click.ClickException(str(exc)) from None


def register(cli: click.Group) -> None:
    cli.add_command(api_group)
