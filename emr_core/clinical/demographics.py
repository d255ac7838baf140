"""Checks on what a person's record may hold: printable names and plausible birth dates."""

from __future__ import annotations

import unicodedata
from datetime import date

EARLIEST_BIRTH = date(1900, 1, 1)
MAX_NAME_LENGTH = 200
# Cc: control characters (NUL, CR, LF...); Cf: format characters (bidi overrides such as U+202E,
# zero-width joiners); Cs/Co/Cn: surrogates, private use, unassigned. None belongs in a name.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def clean_name(text: str) -> str:
    """The name in NFC with runs of white space collapsed; ValueError naming the problem."""
    normal = unicodedata.normalize("NFC", text)
    for char in normal:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValueError(f"full_name: contains the invisible or control character U+{ord(char):04X}")
    collapsed = " ".join(normal.split())
    if not collapsed:
        raise ValueError("full_name: must contain at least one visible character")
    if len(collapsed) > MAX_NAME_LENGTH:
        raise ValueError(f"full_name: longer than {MAX_NAME_LENGTH} characters")
    return collapsed


def check_birth_date(born: date, today: date | None = None) -> date:
    """The date itself when plausible (from 1900-01-01 to today); ValueError otherwise."""
    latest = today or date.today()
    if not EARLIEST_BIRTH <= born <= latest:
        raise ValueError(f"birth_date: must be between {EARLIEST_BIRTH.isoformat()} and {latest.isoformat()}")
    return born
