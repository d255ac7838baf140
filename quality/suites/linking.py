"""Linking suite: no study waits unlinked or in the review queue longer than allowed."""

from __future__ import annotations

from quality.spec import Rule, Suite, in_set


def linking_suite(max_days: float) -> Suite:
    """Build the linking suite (blocking): studies wait at most `max_days` (SGM_LINK_REVIEW_MAX_DAYS)."""
    return Suite(
        name="linking",
        key_columns=("study_uid", "link_state"),
        rules=(
            in_set("link_state", ["linked", "review", "unlinked"], "link state is known"),
            Rule(
                f"no study unlinked or waiting for review longer than {max_days:g} days",
                "ExpectColumnValuesToBeBetween",
                {"column": "waiting_days", "min_value": 0, "max_value": max_days},
                ("waiting_since",),
            ),
        ),
    )
