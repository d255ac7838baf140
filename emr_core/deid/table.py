"""PS3.15 Table E.1-1 actions per attribute, from the table Kitware's dicom-anonymizer ships.

We take the standard's table from a maintained package rather than keeping a copy of our own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.tag import BaseTag

TABLE_EDITION = "dicomfields_2026c"


class Action(StrEnum):
    """Basic profile actions; combined ones are resolved by the attribute's role in the IOD."""

    D = "D"
    Z = "Z"
    X = "X"
    U = "U"
    Z_D = "Z/D"
    X_Z = "X/Z"
    X_D = "X/D"
    X_Z_D = "X/Z/D"
    X_Z_U = "X/Z/U*"


_CATEGORIES = {
    "D_TAGS": Action.D,
    "Z_TAGS": Action.Z,
    "X_TAGS": Action.X,
    "U_TAGS": Action.U,
    "Z_D_TAGS": Action.Z_D,
    "X_Z_TAGS": Action.X_Z,
    "X_D_TAGS": Action.X_D,
    "X_Z_D_TAGS": Action.X_Z_D,
    "X_Z_U_STAR_TAGS": Action.X_Z_U,
}


@dataclass(frozen=True)
class MaskedEntry:
    """A repeating-group row (overlays, curves): group and element compared under masks."""

    group: int
    element: int
    group_mask: int
    element_mask: int
    action: Action

    def matches(self, tag: BaseTag) -> bool:
        return tag.group & self.group_mask == self.group and tag.element & self.element_mask == self.element


def load_table(edition: str = TABLE_EDITION) -> tuple[dict[int, Action], tuple[MaskedEntry, ...]]:
    """Exact tags -> action, and the masked rows, for one edition of the standard."""
    database = dicom_anonymization_database_selector(edition)
    exact: dict[int, Action] = {}
    masked: list[MaskedEntry] = []
    for category, action in _CATEGORIES.items():
        for row in database[category]:
            if len(row) == 2:
                exact[BaseTag((row[0] << 16) | row[1])] = action
            else:
                masked.append(MaskedEntry(row[0], row[1], row[2], row[3], action))
    return exact, tuple(masked)


EXACT, MASKED = load_table()
# Repeating groups live in 50xx/60xx only; skip the masked scan for every other tag.
_MASKED_GROUPS = frozenset(entry.group for entry in MASKED)


def action_for(tag: BaseTag) -> Action | None:
    """The table's action for a standard attribute, or None when the table does not list it."""
    action = EXACT.get(tag)
    if action is not None or (tag.group & 0xFF00) not in _MASKED_GROUPS:
        return action
    return next((entry.action for entry in MASKED if entry.matches(tag)), None)
