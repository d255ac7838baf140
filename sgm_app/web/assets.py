"""Static files: our own CSS/JS and the browser libraries npm installs at setup (never a CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
VENDOR_DIR = HERE / "node_modules"  # `npm ci --prefix sgm_app/web` (make setup) fills it; git ignores it
OWN_DIR = HERE / "static"
VENDOR_URL = "/static/vendor"
OWN_URL = "/static/app"

# The files the pages load, relative to the vendor folder.
HTMX = "htmx.org/dist/htmx.min.js"
OPENSEADRAGON = "openseadragon/build/openseadragon/openseadragon.min.js"
OPENSEADRAGON_IMAGES = "openseadragon/build/openseadragon/images/"
CHART = "chart.js/dist/chart.umd.min.js"
SWAGGER_JS = "swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui-dist/swagger-ui.css"
REDOC_JS = "redoc/bundles/redoc.standalone.js"
REQUIRED = (HTMX, OPENSEADRAGON, CHART, SWAGGER_JS, SWAGGER_CSS, REDOC_JS)


def vendor(path: str) -> str:
    return f"{VENDOR_URL}/{path}"


def missing_assets() -> list[str]:
    """Vendor files that setup has not installed (empty when `npm ci` ran)."""
    return [p for p in REQUIRED if not (VENDOR_DIR / p).is_file()]


def mount_static(app: FastAPI) -> None:
    # check_dir=False: the API must still start before `npm ci`; pages then say what is missing.
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")
    app.mount(OWN_URL, StaticFiles(directory=OWN_DIR), name="web-static")
