"""Vietnamese and English through one catalogue: complete, current, and switchable in the browser."""

from __future__ import annotations

import re
from typing import Any

from babel.messages.pofile import read_po

from sgm_app.web.catalogue import TEMPLATE, extract, po_path
from sgm_app.web.i18n import translations
from tests.sgm_app.web.webenv import WebServer, sign_in

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _ids(catalog: Any) -> set[str]:
    return {m.id for m in catalog if m.id}


def test_the_catalogue_holds_every_string_of_the_sources() -> None:
    with TEMPLATE.open("rb") as handle:
        template = read_po(handle)
    assert _ids(extract()) == _ids(template), "run `python -m sgm_app.web.catalogue` and translate the new strings"


def test_every_string_has_a_vietnamese_translation_with_the_same_placeholders() -> None:
    with po_path("vi").open("rb") as handle:
        vi = read_po(handle, locale="vi")
    with TEMPLATE.open("rb") as handle:
        wanted = _ids(read_po(handle))
    translated = {m.id: m.string for m in vi if m.id and m.string and not m.fuzzy}
    assert wanted - set(translated) == set()
    for msgid, text in translated.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid
    assert translations("vi").gettext("Sign in") == "Đăng nhập"


def test_switching_language_translates_the_pages(page: Any, web_server: WebServer) -> None:
    sign_in(page, "clinician", "/ui/patients")
    page.get_by_label("Language").select_option("vi")  # submits by itself
    page.wait_for_url("**/ui/patients")
    page.get_by_role("heading", name="Người bệnh", level=1).wait_for()
    assert page.locator("html").get_attribute("lang") == "vi"
    nav = page.get_by_role("navigation").inner_text()
    assert "Công việc của tôi" in nav and "My tasks" not in nav
    page.get_by_label("Tìm theo tên, mã định danh hoặc ngày sinh").fill("zzzz-nobody")
    page.get_by_role("button", name="Tìm", exact=True).click()
    assert page.locator("#results").inner_text().strip() == "Không tìm thấy người bệnh."
    # The choice is remembered: the next page (here, after signing out) is still in Vietnamese.
    page.get_by_role("button", name="Đăng xuất").click()
    page.get_by_role("heading", name="Đăng nhập").wait_for()
    page.get_by_label("Ngôn ngữ").select_option("en")
    page.get_by_role("heading", name="Sign in").wait_for()
