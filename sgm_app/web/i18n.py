"""Vietnamese and English through one gettext catalogue (Babel); .po files are compiled in memory at start."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"en": "English", "vi": "Tiếng Việt"}
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "sgm_lang"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of one language (English falls back to the source strings)."""
    po = CATALOGUE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language not in LANGUAGES or not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def choose_language(cookie: str | None, accept_language: str) -> str:
    """The cookie's choice, else the browser's first supported preference, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
