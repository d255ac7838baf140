"""Where the database time goes: every statement this process sends, timed and grouped, and the plans of the slowest.

Indexes are added only where a measured plan shows the need, so the bench prints the plans (MariaDB's
EXPLAIN) of the SELECTs that took the most time in total, with the arguments of their slowest run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class StatementTime:
    """One statement text: how often it ran, its total and slowest time, and the arguments of the slowest."""

    sql: str
    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0
    slowest_params: Any = None


@dataclass
class StatementLog:
    """Statements grouped by their text (arguments are bound, so one text is one statement)."""

    by_sql: dict[str, StatementTime] = field(default_factory=dict)

    def add(self, sql: str, params: Any, seconds: float, many: bool) -> None:
        entry = self.by_sql.setdefault(sql, StatementTime(sql))
        entry.count += 1
        entry.total_s += seconds
        if seconds > entry.max_s and not many:
            entry.max_s, entry.slowest_params = seconds, params

    def top(self, n: int) -> list[StatementTime]:
        return sorted(self.by_sql.values(), key=lambda e: e.total_s, reverse=True)[:n]


@contextmanager
def timed_statements(engine: Engine) -> Iterator[StatementLog]:
    """Time every statement `engine` runs in this process while the block runs."""
    log = StatementLog()

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        log.add(statement, params, time.perf_counter() - conn.info["bench_started"].pop(), many)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, entry: StatementTime) -> list[str]:
    """MariaDB's plan of one SELECT with the arguments of its slowest run (nothing on other backends)."""
    if engine.dialect.name != "mysql" or not entry.sql.lstrip().upper().startswith("SELECT"):
        return []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN " + entry.sql, entry.slowest_params)
        names = [d[0] for d in cursor.description]
        keep = ("table", "type", "key", "rows", "Extra")
        return [" ".join(f"{k}={row[names.index(k)]}" for k in keep) for row in cursor.fetchall()]
    finally:
        raw.close()


def report_lines(engine: Engine, log: StatementLog, n: int = 8) -> list[str]:
    """The n statements with the most total time, each with its plan."""
    lines = []
    for entry in log.top(n):
        sql = " ".join(entry.sql.split())
        lines.append(
            f"{entry.total_s:8.2f} s total  {entry.count:6d} runs  max {entry.max_s * 1000:8.1f} ms  {sql[:160]}"
        )
        lines += [f"      plan: {step}" for step in explain(engine, entry)]
    return lines
