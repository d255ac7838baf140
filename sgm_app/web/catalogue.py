"""The message catalogue: extract every string of the web app (Python and templates) and update vi/en.

Run `python -m sgm_app.web.catalogue` after changing strings, then translate the new entries in vi/.../messages.po.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from sgm_app.web.i18n import CATALOGUE_DIR, LANGUAGES

WEB_DIR = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
TEMPLATE = CATALOGUE_DIR / "messages.pot"


def extract() -> Catalog:
    """Every translatable string in the sources, as a template catalogue."""
    catalog = Catalog(project="sgm-web", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(WEB_DIR, METHODS, OPTIONS):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
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
