"""Export audit events for a date range as JSON or CSV (both carry every hashed field)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.audit import HASHED_FIELDS
from emr_core.models import AuditEvent

COLUMNS = (*HASHED_FIELDS, "row_hash")


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00): both days included."""
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def audit_rows(session: Session, start: date, end: date) -> Iterator[dict[str, Any]]:
    """Events from `start` to `end` (inclusive days, UTC), oldest first, as plain dicts."""
    lower, upper = day_range(start, end)
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.occurred_at >= lower, AuditEvent.occurred_at < upper)
        .order_by(AuditEvent.id)
    )
    for event in session.scalars(stmt).yield_per(1000):
        row = {name: getattr(event, name) for name in COLUMNS}
        row["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
        yield row


def to_json(rows: Iterator[dict[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=1)


def to_csv(rows: Iterator[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "detail": json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)})
    return buffer.getvalue()
