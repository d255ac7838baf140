"""The message catalogue: extract every string of the web app (Python and templates) and update vi/en.

Run `python -m sgm_app.web.catalogue` after changing strings, then translate the new entries in vi/.../messages.po.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from emr_core.clinical.forms import SHIPPED
from sgm_app.web.i18n import CATALOGUE_DIR, LANGUAGES
from sgm_app.web.schema_form import humanise

WEB_DIR = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
TEMPLATE = CATALOGUE_DIR / "messages.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "translate": (2,)}


def form_words(schema: Mapping[str, Any]) -> set[str]:
    """The labels and choices a shipped form template shows, as the form renderer words them."""
    words = {str(schema["title"])} if "title" in schema else set()
    for key, sub in schema.get("properties", {}).items():
        words.add(str(sub.get("title") or humanise(key)))
        words.update(str(o).replace("_", " ").capitalize() for o in sub.get("enum", []))
        words |= form_words(sub)
        if isinstance(sub.get("items"), dict):
            words |= form_words(sub["items"])
    return words


def extract() -> Catalog:
    """Every translatable string in the sources and the shipped form templates, as a template catalogue."""
    catalog = Catalog(project="sgm-web", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(WEB_DIR, METHODS, OPTIONS, keywords=KEYWORDS):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    for name, path in SHIPPED.items():
        for word in sorted(form_words(json.loads(path.read_text(encoding="utf-8")))):
            catalog.add(word, locations=[(f"form:{name}", 0)])
    return catalog


def po_path(language: str) -> Path:
    return CATALOGUE_DIR / language / "LC_MESSAGES" / "messages.po"


def update() -> None:
    """Write messages.pot and merge it into each language's .po (new strings untranslated)."""
    template = extract()
    with TEMPLATE.open("wb") as handle:
        write_po(handle, template, omit_header=True, no_location=True, sort_output=True)
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="sgm-web", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, no_location=True, sort_output=True, ignore_obsolete=True)


if __name__ == "__main__":
    update()
