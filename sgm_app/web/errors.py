"""HTML outcomes for the web pages: login redirects, a clear forbidden page, a stale-form page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from emr_core.clinical.patients import PatientMergedError
from sgm_app.web.deps import CsrfRejectedError, ForbiddenError, LoginRequiredError, forbidden_page, login_redirect
from sgm_app.web.render import render_html


async def _login(_: Request, exc: LoginRequiredError) -> Response:
    return login_redirect(exc.next_url, exc.expired)


async def _forbidden(request: Request, _: ForbiddenError) -> Response:
    return forbidden_page(request)


async def _csrf(request: Request, _: CsrfRejectedError) -> Response:
    return render_html(request, "csrf.html", 403)


def _is_web_page(request: Request) -> bool:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return str(getattr(endpoint, "__module__", "")).startswith("sgm_app.web.")


def _merged_handler(api_handler: Callable[[Request, Exception], Awaitable[Response]] | None) -> Callable[..., Any]:
    """A write to a merged-away record: 409 naming the surviving record, as a page on pages, as JSON on the API."""

    async def merged(request: Request, exc: PatientMergedError) -> Response:
        if api_handler is not None and not _is_web_page(request):
            return await api_handler(request, exc)
        return render_html(request, "merged.html", 409, survivor=exc.survivor)

    return merged


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequiredError, _login)  # type: ignore[arg-type]
    app.add_exception_handler(ForbiddenError, _forbidden)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRejectedError, _csrf)  # type: ignore[arg-type]
    api_handler = app.exception_handlers.get(PatientMergedError)
    app.add_exception_handler(PatientMergedError, _merged_handler(api_handler))  # type: ignore[arg-type]
