"""The clinical web application: server-rendered pages for clinical staff, served by the API's process."""

from __future__ import annotations

from fastapi import FastAPI

from sgm_app.web.assets import mount_static
from sgm_app.web.errors import install_handlers
from sgm_app.web.routes import ROUTERS


def install(app: FastAPI) -> None:
    """Add the web pages, offline API docs and static assets to the API app (its routes come after ours)."""
    mount_static(app)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
