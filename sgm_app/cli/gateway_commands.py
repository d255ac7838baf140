"""`sgm gateway`: the radiologists' entry point, nginx in front of Label Studio with our access endpoint."""

from __future__ import annotations

import signal
import sys

import click

from sgm_app.cli.context import CliContext, pass_cli
from sgm_app.gateway.nginx import GatewayLayout
from sgm_app.nginx import NginxError


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
    except NginxError as exc:
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
    gateway = Gateway(ctx.sessions(), server.url, creds.email.lower(), creds.token, ctx.settings)
    # A plain SIGTERM would end Python without running `finally`, leaving nginx behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        nginx = start_nginx(layout)
    except NginxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"reading gateway on {layout.url} -> Label Studio {server.url} (access endpoint :{layout.auth_port})")
    try:
        uvicorn.run(create_app(gateway), host="127.0.0.1", port=layout.auth_port, log_level="warning")
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)


@gateway_group.command("schemes")
def gateway_schemes() -> None:
    """List the reading schemes a site can choose per campaign, and who may see what in each phase."""
    from annotation_ui.schemes import SCHEMES

    for scheme in SCHEMES.values():
        click.echo(f"{scheme.name}: {scheme.description}")
        for s in scheme.sights:
            what = "own project" if s.viewer == s.owner else f"{s.owner}'s project"
            mode = "read and submit" if s.write else "look only"
            extra = ", with model predictions" if s.predictions else ""
            extra += ", only the sides whose first read is submitted" if s.reviewed_only else ""
            click.echo(f"  {s.viewer:<12} {what:<24} {mode}{extra} during {', '.join(sorted(s.phases))}")


@gateway_group.command("scheme")
@click.argument("campaign")
@click.argument("scheme")
@pass_cli
def gateway_scheme(ctx: CliContext, campaign: str, scheme: str) -> None:
    """Choose the reading scheme of CAMPAIGN (see `sgm gateway schemes`); the gateway enforces it at once."""
    from annotation_ui.campaigns import CampaignError
    from annotation_ui.scheme_admin import set_scheme
    from annotation_ui.schemes import SchemeError
    from emr_core.db import session_scope

    try:
        with session_scope(ctx.sessions()) as session:
            missing = set_scheme(session, campaign, scheme)
    except (CampaignError, SchemeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign!r} now reads under {scheme}")
    if missing:
        click.echo(f"warning: no project for role(s) {', '.join(missing)}; they see nothing", err=True)


@gateway_group.command("phase")
@click.argument("campaign")
@click.argument("phase")
@pass_cli
def gateway_phase(ctx: CliContext, campaign: str, phase: str) -> None:
    """Move CAMPAIGN to PHASE (reading, adjudication, review); adjudication also starts by itself when queued."""
    from annotation_ui.campaigns import CampaignError
    from annotation_ui.scheme_admin import set_phase
    from annotation_ui.schemes import SchemeError
    from emr_core.db import session_scope

    try:
        with session_scope(ctx.sessions()) as session:
            set_phase(session, campaign, phase)
    except (CampaignError, SchemeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign!r} is in phase {phase}")


def register(cli: click.Group) -> None:
    cli.add_command(gateway_group)
