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
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="Server processes.")
@pass_cli
def serve(ctx: CliContext, host: str, port: int | None, workers: int) -> None:
    """Serve the API until interrupted; the database must be migrated (`sgm db upgrade`)."""
    import uvicorn

    ctx.sessions()  # refuses an unmigrated database with a clear message before binding the port
    chosen = port or ctx.settings.api_port
    click.echo(f"EMR API on http://{host}:{chosen} (docs at /docs), database {ctx.engine.url.render_as_string()}")
    # The factory re-reads settings from the environment, so each worker process builds its own app.
    uvicorn.run(
        "sgm_app.api.serve:app_from_environment",
        factory=True,
        host=host,
        port=chosen,
        workers=workers,
        log_level="info",
        access_log=False,
        # Longer than clients and proxies keep an idle connection (httpx 5 s, nginx upstream 60 s): with
        # uvicorn's 5 s, the server closed connections a client was just reusing and ~1 request in 4,000
        # failed with a read error under 50 concurrent clients.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def register(cli: click.Group) -> None:
    cli.add_command(api_group)
