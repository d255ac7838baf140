"""The clinical web application: server-rendered pages for clinical staff, served by the API's process."""

from __future__ import annotations

from fastapi import FastAPI

from sgm_app.web.assets import mount_static
from sgm_app.web.errors import install_handlers
from sgm_app.web.routes import ROUTERS

WRITE_PATHS = frozenset({"/login", "/logout", "/lang"})


def checks_its_own_writes(path: str) -> bool:
    """Web form posts carry a session cookie and a CSRF token, checked by the pages, not a bearer token."""
    return path in WRITE_PATHS or path.startswith("/ui/")


def install(app: FastAPI) -> None:
    """Add the web pages, offline API docs and static assets to the API app (its routes come after ours)."""
    mount_static(app)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
