"""Jinja2 pages: one environment, the request's language and the signed-in user in every template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sgm_app.web import assets
from sgm_app.web.i18n import LANG_COOKIE, LANGUAGES, choose_language, translations
from sgm_app.web.labels import AUDIT_ACTIONS, AUDIT_OUTCOMES
from sgm_app.web.link_reasons import date_match, dicom_person_name, link_reason, link_via
from sgm_app.web.session import CSRF_FIELD, csrf_token

ENV = Environment(
    loader=FileSystemLoader(assets.HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
ENV.globals.update(vendor=assets.vendor, own=assets.OWN_URL, LANGUAGES=LANGUAGES, CSRF_FIELD=CSRF_FIELD)
ENV.globals.update(AUDIT_ACTIONS=AUDIT_ACTIONS, AUDIT_OUTCOMES=AUDIT_OUTCOMES)
ENV.globals.update(link_reason=link_reason, link_via=link_via, date_match=date_match)
ENV.filters["person_name"] = dicom_person_name


PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def language(request: Request) -> str:
    return choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language", ""))


def gettext_for(request: Request) -> Callable[..., str]:
    """`_(msgid, **values)` in the request's language; values fill %(name)s placeholders."""
    catalogue = translations(language(request))

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return gettext


def render_html(request: Request, page_template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a page in the request's language, with the CSRF token for its forms."""
    lang = language(request)
    gettext = gettext_for(request)
    body = ENV.get_template(page_template).render(
        request=request,
        lang=lang,
        csrf=csrf_token(request),
        _=gettext,
        gettext=gettext,
        missing_assets=assets.missing_assets(),
        **values,
    )
    response = HTMLResponse(body, status_code=status)
    # Pages show patient data: never framed by another site, never cached by a shared proxy, referrer kept local.
    response.headers.update(PAGE_HEADERS)
    return response


def translate(request: Request, message: str, **values: Any) -> str:
    """One string in the request's language (the catalogue extracts the second argument)."""
    return gettext_for(request)(message, **values)
