"""Operational reports: activity per user and day, ingest volume, reading throughput, tasks."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, case, cast, func, select
from sqlalchemy.orm import Session

from emr_core.clinical.audit_export import day_range
from emr_core.enums import TaskStatus
from emr_core.models import AuditEvent, Instance, Study
from emr_core.models_annotation import (
    AnnotationReader,
    AnnotationRevision,
    CampaignTask,
    ConsolidatedRead,
    ReaderAssignment,
)
from emr_core.models_clinical import ExamReport, Task


@dataclass(frozen=True)
class Table:
    """One report section: a title, column names and rows."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[object, ...]] = field(default_factory=list)


def _day(column: SQLColumnExpression[Any]) -> ColumnElement[str]:
    # SUBSTR of the ISO text works on SQLite and MySQL alike and keeps the query portable.
    return func.substr(cast(column, String), 1, 10)


def user_activity(session: Session, start: date, end: date) -> Table:
    lower, upper = day_range(start, end)
    day = _day(AuditEvent.occurred_at)
    stmt = (
        select(day, AuditEvent.user_id, AuditEvent.user_role, AuditEvent.event_id, AuditEvent.action, func.count())
        .where(AuditEvent.occurred_at >= lower, AuditEvent.occurred_at < upper, AuditEvent.user_id != "")
        .group_by(day, AuditEvent.user_id, AuditEvent.user_role, AuditEvent.event_id, AuditEvent.action)
        .order_by(day, AuditEvent.user_id)
    )
    return Table(
        "Activity per user and day",
        ("day", "user", "role", "event_id", "action", "events"),
        [tuple(r) for r in session.execute(stmt)],
    )


def ingest_volume(session: Session, start: date, end: date) -> Table:
    lower, upper = day_range(start, end)
    day = _day(Instance.received_at)
    stmt = (
        select(day, Instance.modality, func.count(), func.coalesce(func.sum(Instance.size_bytes), 0))
        .where(Instance.received_at >= lower, Instance.received_at < upper)
        .group_by(day, Instance.modality)
        .order_by(day)
    )
    return Table(
        "Ingest volume per day",
        ("day", "modality", "instances", "bytes"),
        [(d, m, n, int(b)) for d, m, n, b in session.execute(stmt)],
    )


def reading_throughput(session: Session, start: date, end: date) -> Table:
    """Exam reports per reader and day, with the mean hours from the study's arrival to the report."""
    lower, upper = day_range(start, end)
    rows = session.execute(
        select(ExamReport.reported_by, ExamReport.source, ExamReport.reported_at, Study.created_at)
        .join(Study, Study.id == ExamReport.study_id)
        .where(ExamReport.reported_at >= lower, ExamReport.reported_at < upper)
    )
    groups: dict[tuple[str, str, str], list[float]] = {}
    for reader, source, reported, arrived in rows:
        hours = max((reported - arrived).total_seconds() / 3600, 0.0)
        groups.setdefault((reported.date().isoformat(), reader, source), []).append(hours)
    return Table(
        "Exam reports per reader and day, with turnaround",
        ("day", "reader", "source", "exams", "mean_turnaround_hours"),
        [(*k, len(v), round(sum(v) / len(v), 2)) for k, v in sorted(groups.items())],
    )


def annotation_throughput(session: Session, start: date, end: date) -> Table:
    """Valid annotations pulled per reader and day, and consolidations with hours from the study's arrival."""
    lower, upper = day_range(start, end)
    day = _day(AnnotationRevision.pulled_at)
    reads = session.execute(
        select(day, AnnotationReader.email, func.count())
        .join(ReaderAssignment, ReaderAssignment.id == AnnotationRevision.assignment_id)
        .join(AnnotationReader, AnnotationReader.id == ReaderAssignment.reader_id)
        .where(
            AnnotationRevision.valid.is_(True),
            AnnotationRevision.pulled_at >= lower,
            AnnotationRevision.pulled_at < upper,
        )
        .group_by(day, AnnotationReader.email)
    )
    rows: list[tuple[object, ...]] = [(d, reader, "annotations", n, "") for d, reader, n in reads]
    consolidated = session.execute(
        select(ConsolidatedRead.consolidated_at, Study.created_at)
        .join(CampaignTask, CampaignTask.id == ConsolidatedRead.campaign_task_id)
        .join(Study, Study.id == CampaignTask.study_id)
        .where(ConsolidatedRead.consolidated_at >= lower, ConsolidatedRead.consolidated_at < upper)
    )
    hours: dict[str, list[float]] = {}
    for done, arrived in consolidated:
        hours.setdefault(done.date().isoformat(), []).append(max((done - arrived).total_seconds() / 3600, 0.0))
    rows += [(d, "", "consolidated breasts", len(v), round(sum(v) / len(v), 2)) for d, v in sorted(hours.items())]
    return Table(
        "Annotation throughput and turnaround",
        ("day", "reader", "what", "count", "mean_turnaround_hours"),
        sorted(rows, key=lambda r: (str(r[0]), str(r[2]), str(r[1]))),
    )


def task_summary(session: Session, today: date) -> Table:
    stmt = (
        select(Task.kind, Task.assignee_role, func.count(), func.sum(case((Task.due_date < today, 1), else_=0)))
        .where(Task.status == TaskStatus.OPEN)
        .group_by(Task.kind, Task.assignee_role)
        .order_by(Task.kind)
    )
    return Table(
        "Open and overdue tasks",
        ("kind", "assignee_role", "open", "overdue"),
        [(k, r, n, int(o or 0)) for k, r, n, o in session.execute(stmt)],
    )


def operations_report(session: Session, start: date, end: date, today: date) -> list[Table]:
    """Every section of the report for the date range."""
    return [
        user_activity(session, start, end),
        ingest_volume(session, start, end),
        reading_throughput(session, start, end),
        annotation_throughput(session, start, end),
        task_summary(session, today),
    ]


def render_csv(tables: Sequence[Table]) -> str:
    """All sections in one CSV: a `section` column first, so it loads as one table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for table in tables:
        writer.writerow(["section", *table.columns])
        writer.writerows([table.title, *row] for row in table.rows)
    return buffer.getvalue()


def render_html(tables: Sequence[Table], start: date, end: date) -> str:
    """A self-contained readable page, every value escaped."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Operations report {start} to {end}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>",
        f"<h1>Operations report {start} to {end}</h1>",
    ]
    for table in tables:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in table.rows)
        empty = "" if table.rows else f"<tr><td colspan='{len(table.columns)}'>none</td></tr>"
        parts.append(f"<h2>{html.escape(table.title)}</h2><table><tr>{head}</tr>{body}{empty}</table>")
    return "".join(parts) + "</body></html>"
