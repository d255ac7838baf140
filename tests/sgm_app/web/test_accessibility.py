"""Every form control is labelled, and pages fit a 1366x768 laptop and a portrait tablet without sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sgm_app.web.webenv import WebServer, sign_in

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('label'))
  .map(el => el.outerHTML.slice(0, 120))"""
FIRST_FOCUSABLE = (
    "() => document.querySelector('a[href], button, input:not([type=hidden]), select, textarea').textContent"
)
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
PAGES = [
    ("clinician", "/"),
    ("clinician", "/ui/patients?q=nguyen"),
    ("clinician", "/ui/patients/1"),
    ("clinician", "/ui/patients/1/edit"),
    ("clinician", "/ui/patients/new/form"),
    ("clinician", "/ui/patients/1/forms/breast_screening_intake/fill"),
    ("clinician", "/ui/patients/1/files"),
    ("clinician", "/ui/tasks"),
    ("admin", "/ui/admin/users"),
    ("admin", "/ui/admin/audit"),
    ("admin", "/ui/reports"),
    ("data_steward", "/ui/review"),
]


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 768, "height": 1024}])
def test_pages_are_labelled_and_fit_the_screen(browser: Any, web_server: WebServer, viewport: dict[str, int]) -> None:
    context = browser.new_context(base_url=web_server.url, viewport=viewport, locale="en-US")
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        signed_in_as = None
        for role, path in PAGES:
            if role != signed_in_as:
                context.clear_cookies()
                sign_in(page, role, path)
                signed_in_as = role
            else:
                page.goto(path)
            assert page.evaluate(UNLABELLED) == [], path
            assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at {viewport}"
            assert page.evaluate(FIRST_FOCUSABLE) == "Skip to content", path
    finally:
        context.close()
