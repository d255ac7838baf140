"""A quality suite as plain data: rules naming Great Expectations expectations, built without importing GX."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Prepare = Callable[[pd.DataFrame], pd.DataFrame]


class SuiteError(ValueError):
    """The frame does not fit the suite (a missing column): a bug in the caller, not bad data."""


def _unchanged(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


@dataclass(frozen=True)
class Rule:
    """One expectation: a GX 1.x expectation class name, its arguments, and what it means to a person."""

    description: str
    expectation: str
    kwargs: Mapping[str, Any]
    show: tuple[str, ...] = ()  # columns an example row shows besides the suite's key columns

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the expectation reads, shown in example rows (unless hidden)."""
        names = [self.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        return tuple(n for n in names if isinstance(n, str))


@dataclass(frozen=True)
class Suite:
    """Rules over one frame; `prepare` adds the computed columns (cross-row rules) they read."""

    name: str
    rules: tuple[Rule, ...]
    key_columns: tuple[str, ...]
    blocking: bool = True
    prepare: Prepare = _unchanged
    # Columns never copied into examples or reports (free text that may hold PHI).
    hidden_columns: frozenset[str] = field(default_factory=frozenset)


def in_set(column: str, values: Any, description: str, show: tuple[str, ...] = ()) -> Rule:
    return Rule(description, "ExpectColumnValuesToBeInSet", {"column": column, "value_set": sorted(values)}, show)


def not_null(column: str, description: str, show: tuple[str, ...] = ()) -> Rule:
    return Rule(description, "ExpectColumnValuesToNotBeNull", {"column": column}, show)


def is_true(column: str, description: str, show: tuple[str, ...] = ()) -> Rule:
    """A computed boolean column that must be True on every row."""
    return in_set(column, [True], description, show)
