"""A self-contained HTML quality report a person can read: one table per suite, failing examples below."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quality.results import RuleResult, SuiteResult

# Inline style only: the report is opened from disk or an artifact store, offline, with no CDN.
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3}.pass{color:#176c2a;font-weight:600}.fail{color:#b00020;font-weight:600}
.warn{color:#8a5a00;font-weight:600}code{font-size:.85rem}
"""


def render_report(title: str, results: Sequence[SuiteResult], generated_at: datetime | None = None) -> str:
    """The whole page as a string; every value is HTML-escaped."""
    when = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    blocked = [r.suite for r in results if r.blocks_export]
    verdict = (
        f'<p class="fail">Export blocked by: {_e(", ".join(blocked))}</p>'
        if blocked
        else '<p class="pass">No blocking check failed.</p>'
    )
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>',
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1><p>Generated {_e(when)}</p>{verdict}",
        _overview(results),
        *(_suite_section(r) for r in results),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(path: Path, title: str, results: Sequence[SuiteResult]) -> Path:
    """Write the report (creating its folder) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(title, results), encoding="utf-8")
    return path


def _overview(results: Sequence[SuiteResult]) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_e(r.suite)}">{_e(r.suite)}</a></td><td>{_status(r.success, r.blocking)}</td>'
        f"<td>{'blocking' if r.blocking else 'warning'}</td><td>{r.rows}</td><td>{r.failing_count}</td></tr>"
        for r in results
    )
    return f"<table><tr><th>Suite</th><th>Result</th><th>Kind</th><th>Rows</th><th>Failing rows</th></tr>{rows}</table>"


def _suite_section(result: SuiteResult) -> str:
    rules = "".join(
        f"<tr><td>{_e(r.description)}</td><td>{_status(r.success, result.blocking)}</td>"
        f"<td>{r.failing_count}</td><td><code>{_e(r.expectation)}</code></td></tr>"
        for r in result.rules
    )
    parts = [
        f'<h2 id="{_e(result.suite)}">{_e(result.suite)}</h2>',
        f"<table><tr><th>Rule</th><th>Result</th><th>Failing rows</th><th>Expectation</th></tr>{rules}</table>",
        *(_examples(r) for r in result.failed_rules if r.examples),
        _scalars({k: v for k, v in result.report.items() if not isinstance(v, dict)}),
        *(_figure(name, value) for name, value in result.report.items() if isinstance(value, dict)),
    ]
    return "\n".join(parts)


def _examples(rule: RuleResult) -> str:
    columns = list(dict.fromkeys(k for row in rule.examples for k in row))
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(row.get(c))}</td>" for c in columns) + "</tr>" for row in rule.examples)
    shown = f"{len(rule.examples)} of {rule.failing_count}"
    return f"<h3>{_e(rule.description)}: examples ({shown})</h3><table><tr>{head}</tr>{body}</table>"


def _scalars(figures: dict[str, Any]) -> str:
    """Plain figures (the run's window, counts) as one two-column table."""
    if not figures:
        return ""
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in figures.items())
    return f"<table><tr><th>Figure</th><th>Value</th></tr>{rows}</table>"


def _figure(name: str, value: Any) -> str:
    """A reported figure: nested mappings (class balance: label -> split -> value -> count) as tables."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return f"<h3>{_e(name)}</h3>" + "".join(_crosstab(str(k), v) for k, v in value.items())
    return f"<h3>{_e(name)}</h3><p>{_e(value)}</p>"


def _crosstab(label: str, table: dict[str, Any]) -> str:
    if not all(isinstance(v, dict) for v in table.values()):
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in table.items())
        return f"<table><tr><th>{_e(label)}</th><th>value</th></tr>{rows}</table>"
    values = sorted({v for row in table.values() for v in row})
    head = "".join(f"<th>{_e(v)}</th>" for v in values)
    rows = "".join(
        f"<tr><td>{_e(split)}</td>" + "".join(f"<td>{row.get(v, 0)}</td>" for v in values) + "</tr>"
        for split, row in table.items()
    )
    return f"<table><tr><th>{_e(label)} / split</th>{head}</tr>{rows}</table>"


def _status(success: bool, blocking: bool) -> str:
    if success:
        return '<span class="pass">pass</span>'
    return '<span class="fail">FAIL</span>' if blocking else '<span class="warn">warn</span>'


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
