"""The linker's reasons, candidate routes and date matches (English in the stored evidence) in the page's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Gettext = Callable[..., str]


def _(text: str) -> str:
    return text  # extraction marker: link_reason translates when it renders


VIAS = {
    "identifier": _("identifier"),
    "identifier_without_issuer": _("identifier without issuer"),
    "accession": _("accession number"),
    "demographics": _("demographics"),
}
DATE_MATCHES = {"exact": _("exact"), "near": _("near"), "missing": _("missing"), "different": _("different")}
FIXED = (
    _("sex differs"),
    _("identifier and accession point to different patients"),
    _("no registry patient matches"),
    _("patients share this name and birth date"),
    _("two candidates close in score"),
)
# The parametrised reasons of emr_core.linking.scoring, each with the message it becomes.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"birth date differs \((?P<how>\w+)\)"), _("birth date differs (%(how)s)")),
    (re.compile(r"name differs \(similarity (?P<similarity>[\d.]+)\)"), _("name differs (similarity %(similarity)s)")),
    (
        re.compile(r"identifier (?P<value>.*) exists under (?P<count>\d+) issuers"),
        _("identifier %(value)s exists under %(count)s issuers"),
    ),
    (
        re.compile(
            r"identifier (?P<value>.*) known under issuer (?P<issuer>'.*') "
            r"but demographics differ \((?P<reasons>.*)\): ignored"
        ),
        _("identifier %(value)s known under issuer %(issuer)s but demographics differ (%(reasons)s): ignored"),
    ),
    (re.compile(r"(?P<via>\w+) match but (?P<reason>.*)"), _("%(via)s match but %(reason)s")),
    (
        re.compile(r"candidate has another identifier under issuer (?P<issuer>'.*')"),
        _("candidate has another identifier under issuer %(issuer)s"),
    ),
    (
        re.compile(
            r"best candidate not conclusive \(birth date (?P<how>\w+), name similarity (?P<similarity>[\d.]+), "
            r"sex agrees (?P<agrees>True|False)\)"
        ),
        _("best candidate not conclusive (birth date %(how)s, name similarity %(similarity)s, sex agrees %(agrees)s)"),
    ),
)


def link_reason(text: str, gettext: Gettext) -> str:
    """One stored reason in the page's language (a reason this table does not know is shown as stored)."""
    if text in FIXED:
        return gettext(text)
    for pattern, message in PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return gettext(message, **{k: _value(k, v, gettext) for k, v in found.groupdict().items()})
    return text


def _value(name: str, value: str, gettext: Gettext) -> str:
    """A reason's parameter, itself translated where it is one of the linker's words."""
    if name == "how":
        return date_match(value, gettext)
    if name == "via":
        return link_via(value, gettext)
    if name == "agrees":
        return gettext(_("yes")) if value == "True" else gettext(_("no"))
    if name == "reason":
        return link_reason(value, gettext)
    if name == "reasons":
        return "; ".join(link_reason(part, gettext) for part in value.split("; "))
    return value


def link_via(via: str, gettext: Gettext) -> str:
    """How a candidate was found (identifier, accession number, demographics)."""
    return gettext(VIAS[via]) if via in VIAS else via


def date_match(how: str, gettext: Gettext) -> str:
    """How a candidate's birth date compares with the header's."""
    return gettext(DATE_MATCHES[how]) if how in DATE_MATCHES else how


def dicom_person_name(name: Any) -> str:
    """A DICOM person name (FAMILY^GIVEN^MIDDLE) as people write it."""
    return " ".join(str(name or "").replace("^", " ").split())
