"""/docs and /redoc with their scripts served from this server, so they work without internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from sgm_app.web.assets import REDOC_JS, SWAGGER_CSS, SWAGGER_JS, missing_assets, vendor

router = APIRouter(include_in_schema=False)
# Nothing may leave the server: ReDoc's footer logo points at its CDN, and the policy keeps the browser from asking.
OFFLINE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:"
)


def _offline(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = OFFLINE_POLICY
    return response


def _missing_page() -> HTMLResponse | None:
    missing = missing_assets()
    if not missing:
        return None
    text = "API documentation assets are not installed (run `make setup`): " + ", ".join(missing)
    return HTMLResponse(f"<!doctype html><title>Setup needed</title><p>{text}</p>", status_code=503)


@router.get("/docs")
def swagger(request: Request) -> HTMLResponse:
    return _missing_page() or _offline(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} - API",
            swagger_js_url=vendor(SWAGGER_JS),
            swagger_css_url=vendor(SWAGGER_CSS),
            swagger_favicon_url="/static/app/favicon.svg",
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _missing_page() or _offline(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=vendor(REDOC_JS),
            redoc_favicon_url="/static/app/favicon.svg",
            with_google_fonts=False,
        )
    )
