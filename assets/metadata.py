"""Turn a domain report (a dataclass) into Dagster metadata shown in the UI."""

from __future__ import annotations

import dataclasses
from typing import Any

import dagster as dg


def report_metadata(report: Any) -> dict[str, Any]:
    """Numbers and strings as they are; collections by their size."""
    metadata: dict[str, Any] = {}
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if isinstance(value, (bool, int, float, str)):
            metadata[field.name] = value
        elif isinstance(value, dict):
            metadata.update({f"{field.name}_{k}": v for k, v in value.items() if isinstance(v, (int, float, str))})
        elif isinstance(value, (list, tuple, set, frozenset)):
            metadata[f"{field.name}_count"] = len(value)
    return metadata


def suite_metadata(result: Any, examples_per_rule: int = 5) -> dict[str, Any]:
    """A quality SuiteResult as metadata: row counts, failing count per rule, failing examples as markdown."""
    metadata: dict[str, Any] = {"rows": result.rows, "failing_rows": result.failing_count}
    for rule in result.rules:
        metadata[f"failing: {rule.description}"] = rule.failing_count
    tables = [_markdown_examples(rule, examples_per_rule) for rule in result.failed_rules]
    metadata["examples"] = dg.MetadataValue.md("\n\n".join(tables) or "no failing rows")
    for key, value in result.report.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, dict) else value
    return metadata


def _markdown_examples(rule: Any, limit: int) -> str:
    rows = list(rule.examples)[:limit]
    title = f"**{rule.description}**: {rule.failing_count} failing"
    if not rows:
        return title
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cell = lambda v: str("" if v is None else v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return title + "\n\n" + "\n".join(lines)
