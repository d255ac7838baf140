"""Plain summaries of a suite run: what failed, how often, and a few rows to look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RuleResult:
    """One expectation's outcome: failing row count and up to N example rows (column -> value)."""

    description: str
    expectation: str
    success: bool
    failing_count: int
    examples: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SuiteResult:
    """A suite run over one frame; `blocking` suites stop the training export when they fail."""

    suite: str
    success: bool
    blocking: bool
    rows: int
    rules: tuple[RuleResult, ...]
    # Figures reported alongside the rules (class balance, scope of the run), not judged.
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def failing_count(self) -> int:
        return sum(r.failing_count for r in self.rules)

    @property
    def blocks_export(self) -> bool:
        return self.blocking and not self.success

    @property
    def failed_rules(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.success)
