"""Evaluate the follow-up rules on every patient's newest assessed exam; create or update tasks idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.clinical.exam_reports import adopt_consolidated_reads, current_reports
from emr_core.clinical.rules import Rule, RuleSet, TaskSpec, add_months, load_rules, rules_fingerprint
from emr_core.db import session_scope
from emr_core.enums import TaskStatus
from emr_core.models import Patient, Study, utcnow
from emr_core.models_clinical import ExamReport, Task
from emr_core.settings import Settings

OPEN = TaskStatus.OPEN
DONE = TaskStatus.DONE
SUPERSEDED = TaskStatus.SUPERSEDED
CLOSED_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED, TaskStatus.SUPERSEDED})
REMINDER_KIND = "overdue_reminder"
ENGINE_USER = "followup-rules"


@dataclass
class FollowupReport:
    """What one evaluation did; re-running with nothing changed gives only `unchanged`."""

    rules_version: str = ""
    exams_evaluated: int = 0
    annotation_reports_adopted: int = 0
    created: int = 0
    rescheduled: int = 0
    unchanged: int = 0
    superseded: int = 0
    pathology_tasks_created: int = 0
    reminders_created: int = 0
    reminders_closed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Exam:
    """A patient's newest assessed study and what the rules need from it."""

    patient_id: int
    study_id: int
    exam_date: date
    assessment: str
    age: int | None


@dataclass(frozen=True)
class Desired:
    source_key: str
    rule_id: str
    patient_id: int
    study_id: int | None
    parent_task_id: int | None
    kind: str
    title: str
    due_date: date
    assignee_role: str


def _age(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def newest_exams(session: Session) -> list[Exam]:
    """Per patient, the assessed study with the latest exam date (study date, else report date)."""
    reports = current_reports(session)
    rows = session.execute(
        select(Study.id, Patient.id, Study.study_date, Patient.birth_date)
        .join(Patient, Patient.id == Study.patient_id)
        .where(Study.id.in_(select(ExamReport.study_id)))
    )
    newest: dict[int, Exam] = {}
    for study_id, patient_id, study_date, born in rows:
        report = reports[study_id]
        when = study_date or report.reported_at.date()
        exam = Exam(patient_id, study_id, when, report.assessment, _age(born, when))
        known = newest.get(patient_id)
        if known is None or (exam.exam_date, exam.study_id) > (known.exam_date, known.study_id):
            newest[patient_id] = exam
    return list(newest.values())


def _due(spec: TaskSpec, start: date, age: int | None) -> date | None:
    if spec.due_days is not None:
        return start + timedelta(days=spec.due_days)
    months = spec.due_months if spec.due_months is not None else spec.months_for_age(age)
    return None if months is None else add_months(start, months)


def _desired(spec: TaskSpec, key: str, rule: Rule, exam_or_parent: Exam | Task, due: date) -> Desired:
    return Desired(
        source_key=key,
        rule_id=rule.id,
        patient_id=exam_or_parent.patient_id,
        study_id=exam_or_parent.study_id,
        parent_task_id=exam_or_parent.id if isinstance(exam_or_parent, Task) else None,
        kind=spec.kind,
        title=spec.title,
        due_date=due,
        assignee_role=spec.assignee_role.value,
    )


def exam_tasks(rules: RuleSet, exams: list[Exam], report: FollowupReport) -> list[Desired]:
    """The task each exam's rule asks for (none when no rule or no age band applies)."""
    wanted = []
    for exam in exams:
        rule = rules.rule_for(exam.assessment)
        if rule is None:
            report.skipped["no_rule"] = report.skipped.get("no_rule", 0) + 1
            continue
        due = _due(rule.task, exam.exam_date, exam.age)
        if due is None:
            report.skipped["no_age_band"] = report.skipped.get("no_age_band", 0) + 1
            continue
        wanted.append(_desired(rule.task, f"{rule.id}:{exam.study_id}", rule, exam, due))
    return wanted


def _apply(session: Session, want: Desired, existing: Task | None) -> str:
    """Create, reschedule or leave one task; returns which."""
    if existing is None:
        session.add(Task(**want.__dict__, status=OPEN))
        return "created"
    if existing.status != OPEN:
        return "unchanged"  # closed tasks stay closed, whatever the rules say now
    changed = False
    for name in ("title", "due_date", "assignee_role", "kind", "rule_id"):
        if getattr(existing, name) != getattr(want, name):
            setattr(existing, name, getattr(want, name))
            changed = True
    if changed:
        existing.updated_at = utcnow()
    return "rescheduled" if changed else "unchanged"


def _close(task: Task, now: datetime, note: str) -> None:
    task.status, task.closed_at, task.closed_by, task.note = SUPERSEDED, now, ENGINE_USER, note


def sync_exam_tasks(session: Session, wanted: list[Desired], report: FollowupReport) -> None:
    """Upsert the wanted exam tasks; open rule tasks no longer wanted are superseded."""
    by_key = {
        t.source_key: t
        for t in session.scalars(
            select(Task).where(Task.rule_id != "", Task.parent_task_id.is_(None), Task.kind != REMINDER_KIND)
        )
    }
    for want in wanted:
        outcome = _apply(session, want, by_key.pop(want.source_key, None))
        setattr(report, outcome, getattr(report, outcome) + 1)
    now = utcnow()
    for stale in by_key.values():
        if stale.status == OPEN:
            _close(stale, now, "superseded by a newer exam, a changed assessment or a changed rule")
            report.superseded += 1


def sync_then_tasks(session: Session, rules: RuleSet, report: FollowupReport) -> None:
    """After a rule's task is done, create (or reschedule) its follow-on task, e.g. pathology result."""
    for rule in rules.rules:
        if rule.then is None:
            continue
        parents = session.scalars(
            select(Task).where(
                Task.rule_id == rule.id, Task.parent_task_id.is_(None), Task.status == DONE, Task.kind == rule.task.kind
            )
        )
        for parent in parents:
            start = (parent.closed_at or parent.updated_at).date()
            due = _due(rule.then, start, None)
            if due is None:
                continue
            key = f"{rule.id}:then:{parent.id}"
            want = _desired(rule.then, key, rule, parent, due)
            existing = session.scalar(select(Task).where(Task.source_key == key))
            outcome = _apply(session, want, existing)
            if outcome == "created":
                report.pathology_tasks_created += 1
            elif outcome == "rescheduled":
                report.rescheduled += 1


def sync_reminders(session: Session, rules: RuleSet, today: date, report: FollowupReport) -> None:
    """One reminder per overdue open task; reminders whose task is no longer overdue are closed."""
    late_before = today - timedelta(days=rules.reminders.overdue_after_days)
    reminders = {t.parent_task_id: t for t in session.scalars(select(Task).where(Task.kind == REMINDER_KIND))}
    overdue = session.scalars(
        select(Task).where(Task.status == OPEN, Task.kind != REMINDER_KIND, Task.due_date < late_before)
    )
    now = utcnow()
    for task in overdue:
        if reminders.pop(task.id, None) is None:
            session.add(
                Task(
                    patient_id=task.patient_id,
                    study_id=task.study_id,
                    parent_task_id=task.id,
                    kind=REMINDER_KIND,
                    title=f"Overdue since {task.due_date.isoformat()}: {task.title}"[:200],
                    due_date=today,
                    assignee_role=rules.reminders.assignee_role.value,
                    rule_id="reminders",
                    source_key=f"overdue:{task.id}",
                    status=OPEN,
                )
            )
            report.reminders_created += 1
    for reminder in reminders.values():
        if reminder.status == OPEN:
            _close(reminder, now, "the task it reminded of is closed or no longer overdue")
            report.reminders_closed += 1


def evaluate_followup(session: Session, rules: RuleSet, today: date | None = None) -> FollowupReport:
    """Run every rule once over the EMR; safe to repeat (the caller commits)."""
    report = FollowupReport(rules_version=rules_fingerprint(rules))
    report.annotation_reports_adopted = adopt_consolidated_reads(session)
    exams = newest_exams(session)
    report.exams_evaluated = len(exams)
    sync_exam_tasks(session, exam_tasks(rules, exams, report), report)
    session.flush()
    sync_then_tasks(session, rules, report)
    session.flush()
    sync_reminders(session, rules, today or utcnow().date(), report)
    session.flush()
    return report


def run_followup(
    session_factory: sessionmaker[Session],
    rules_path: str | None = None,
    today: date | None = None,
    settings: Settings | None = None,
) -> FollowupReport:
    """Load the rules (path, the followup_rules setting or shipped) and evaluate them in one transaction."""
    rules = load_rules(rules_path or None, settings)
    with session_scope(session_factory) as session:
        return evaluate_followup(session, rules, today)
