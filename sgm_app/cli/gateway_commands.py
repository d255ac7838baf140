"""`sgm gateway`: the radiologists' entry point, nginx in front of Label Studio with our access endpoint."""

from __future__ import annotations

import signal
import sys

import click

from sgm_app.cli.context import CliContext, pass_cli
from sgm_app.gateway.nginx import GatewayError, GatewayLayout


def _layout(ctx: CliContext) -> GatewayLayout:
    s = ctx.settings
    return GatewayLayout(s.root / "gateway", s.gateway_port, s.gateway_auth_port, s.label_studio_port)


@click.group("gateway")
def gateway_group() -> None:
    """The reading gateway (SGM_GATEWAY_PORT): readers see only their own projects, refusals are audited."""


@gateway_group.command("config")
@pass_cli
def gateway_config(ctx: CliContext) -> None:
    """Render the nginx configuration under the data folder and check it with `nginx -t`."""
    from sgm_app.gateway.nginx import write_config

    layout = _layout(ctx)
    try:
        click.echo(str(write_config(layout)))
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None


@gateway_group.command("serve")
@pass_cli
def gateway_serve(ctx: CliContext) -> None:
    """Run nginx and the access endpoint in the foreground until interrupted (Label Studio must be set up)."""
    import uvicorn

    from annotation_ui.server import LabelStudioServer, credentials
    from sgm_app.gateway.app import Gateway, create_app
    from sgm_app.gateway.nginx import start_nginx

    layout = _layout(ctx)
    server = LabelStudioServer.from_settings(ctx.settings)
    creds = credentials(server)
    gateway = Gateway(ctx.sessions(), server.url, creds.email.lower(), creds.token)
    # A plain SIGTERM would end Python without running `finally`, leaving nginx behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        nginx = start_nginx(layout)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"reading gateway on {layout.url} -> Label Studio {server.url} (access endpoint :{layout.auth_port})")
    try:
        uvicorn.run(create_app(gateway), host="127.0.0.1", port=layout.auth_port, log_level="warning")
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)


def register(cli: click.Group) -> None:
    cli.add_command(gateway_group)
