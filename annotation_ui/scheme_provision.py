"""Which people a reading scheme needs, and how each role's Label Studio project is set up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotation_ui.schemes import ReadingScheme

READER_ROLES = ("reader_1", "reader_2")
# Roles whose projects get every task at provisioning; the others are filled later (adjudication, review queues).
READS_FROM_START = frozenset(READER_ROLES)
# What every reader's project hides unless the scheme says otherwise: other reads, predictions, history.
HIDDEN_PROJECT_OPTIONS: dict[str, Any] = {
    "maximum_annotations": 1,
    "show_collab_predictions": False,
    "show_annotation_history": False,
    "show_overlap_first": False,
    "sampling": "Sequential sampling",
    "show_skip_button": True,
}


class RolesError(ValueError):
    """The people given do not fit the scheme's roles; the message says which option to change."""


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def roles_for(
    scheme: ReadingScheme, readers: Sequence[str], senior: str | None = None, adjudicator: str | None = None
) -> dict[str, str]:
    """Role -> email for the scheme, or a one-line error naming the options that do not fit."""
    wanted = [r for r in scheme.roles if r in READER_ROLES]
    if len(readers) != len(wanted):
        raise RolesError(
            f"scheme {scheme.name!r} takes {_count(len(wanted), '--reader')}, got {len(readers)}",
        )
    emails = dict(zip(wanted, readers, strict=True))
    for role, person, option in (("senior", senior, "--senior"), ("adjudicator", adjudicator, "--adjudicator")):
        if role in scheme.roles and not person:
            raise RolesError(f"scheme {scheme.name!r} needs {option}")
        if role not in scheme.roles and person:
            raise RolesError(f"scheme {scheme.name!r} has no {role}; leave out {option}")
        if person:
            emails[role] = person
    if len({e.strip().lower() for e in emails.values()}) != len(emails):
        raise RolesError(f"the {len(emails)} people of a {scheme.name!r} campaign must be different people")
    return emails


def project_title(campaign: str, scheme: ReadingScheme, role: str) -> str:
    if role == "adjudicator":
        return f"{campaign} · adjudication"
    if role == "senior":
        return f"{campaign} · senior review"
    blind = scheme.name.startswith("blind_double")
    return f"{campaign} · {'blind read' if blind else 'read'} {role[-1]}"


def project_options(scheme: ReadingScheme, role: str) -> dict[str, Any]:
    """Label Studio project fields for one role's project: predictions are shown only where the scheme allows
    (the model version to show is set when predictions are pushed; Label Studio needs them to exist first)."""
    shown = role in scheme.shows_predictions
    if role == "adjudicator":
        return {"maximum_annotations": 1, "show_collab_predictions": shown}
    return {**HIDDEN_PROJECT_OPTIONS, "show_collab_predictions": shown}
