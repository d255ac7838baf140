"""Step 1 of consolidation: fetch every reader's annotations, check blinding, keep each revision validated.

Label Studio is read first, outside any database transaction; the results are then stored in one
short transaction. Nothing is decided here: a blinding violation is on record before any decision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.blinding import find_violations, record_violations
from annotation_ui.campaign_context import CampaignContext, load_context
from annotation_ui.campaigns import BLIND_ROLES, assignments_of, campaign_by_name
from annotation_ui.client import LabelStudioClient
from annotation_ui.schemes import scheme_named
from annotation_ui.validation import validate_result
from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_annotation import AnnotationCampaign, AnnotationReader, AnnotationRevision

Exports = dict[str, list[dict[str, Any]]]  # role -> exported tasks with their annotations


@dataclass(frozen=True)
class PullReport:
    """What one pull stored and rejected, and the blinding violations it found."""

    campaign: str
    revisions_new: int
    revisions_rejected: int
    violations_new: int


@dataclass(frozen=True)
class _Fetched:
    exports: Exports
    predicted: dict[str, set[int]]  # role -> tasks of that project carrying predictions


def _fetch(admin: LabelStudioClient, projects: dict[str, int], shown: tuple[str, ...] = ()) -> _Fetched:
    """Every project's export, and which blind projects' tasks carry predictions (HTTP only); `shown` are the
    roles whose scheme shows predictions (an AI-assisted reader's predictions are no violation)."""
    exports = {role: admin.export_annotated(project) for role, project in projects.items()}
    blind = {r for r in BLIND_ROLES if r not in shown}
    predicted = {role: admin.prediction_task_ids(p) if role in blind else set() for role, p in projects.items()}
    return _Fetched(exports, predicted)


def _sha(result: list[Any]) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _store_revisions(session: Session, ctx: CampaignContext, exports: Exports) -> tuple[int, int]:
    """Store each annotation content not seen before, validated; returns (new, rejected)."""
    known: set[tuple[int, str]] = {
        (int(a), str(s))
        for a, s in session.execute(
            select(AnnotationRevision.ls_annotation_id, AnnotationRevision.result_sha256).where(
                AnnotationRevision.assignment_id.in_([a.id for a in ctx.assignments.values()])
            )
        )
    }
    new = rejected = 0
    for task in (t for tasks in exports.values() for t in tasks):
        if int(task["id"]) not in ctx.ls_tasks:
            continue  # a task we did not create (e.g. added by hand): never consolidated
        assignment_id, task_id = ctx.ls_tasks[int(task["id"])]
        sizes = {v: (m.png_width, m.png_height) for v, m in ctx.mappings[task_id].items()}
        for ann in task.get("annotations", []):
            result, sha = ann.get("result") or [], _sha(ann.get("result") or [])
            if ann.get("was_cancelled") or (int(ann["id"]), sha) in known:
                continue
            problems = validate_result(result, ctx.schema, sizes)
            session.add(
                AnnotationRevision(
                    assignment_id=assignment_id,
                    campaign_task_id=task_id,
                    ls_annotation_id=int(ann["id"]),
                    completed_by=ann.get("completed_by"),
                    updated_by=ann.get("updated_by"),
                    ls_updated_at=str(ann.get("updated_at") or ""),
                    result=result,
                    result_sha256=sha,
                    valid=not problems,
                    problems=problems,
                )
            )
            known.add((int(ann["id"]), sha))
            new, rejected = new + 1, rejected + bool(problems)
    session.flush()
    return new, rejected


def _record_blinding(session: Session, ctx: CampaignContext, fetched: _Fetched) -> int:
    """Record new violations for every project; returns how many were new."""
    users = dict(session.execute(select(AnnotationReader.id, AnnotationReader.ls_user_id)).all())
    new = 0
    for role, assignment in ctx.assignments.items():
        found = find_violations(fetched.exports[role], users[assignment.reader_id], fetched.predicted[role])
        new += record_violations(session, assignment, found)
    return new


def pull_campaign(
    session_factory: sessionmaker[Session], admin: LabelStudioClient, name: str, user: str = ""
) -> PullReport:
    """Fetch a campaign's reads from Label Studio, then record violations and revisions in one transaction."""
    with session_scope(session_factory) as session:
        campaign = campaign_by_name(session, name)
        projects = {role: a.ls_project_id for role, a in assignments_of(session, campaign.id).items()}
        shown = scheme_named(campaign.scheme).shows_predictions
    fetched = _fetch(admin, projects, shown)
    with session_scope(session_factory) as session:
        ctx = load_context(session, campaign_by_name(session, name))
        violations = _record_blinding(session, ctx, fetched)
        new, rejected = _store_revisions(session, ctx, fetched.exports)
        report = PullReport(name, new, rejected, violations)
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.IMPORT,
                action=AuditAction.CREATE,
                event_type="annotation.reads_pulled",
                user_id=user,
                detail={
                    "campaign": name,
                    "new_revisions": new,
                    "rejected": rejected,
                    "blinding_violations": violations,
                },
            ),
        )
    return report


def pull_all(session_factory: sessionmaker[Session], admin: LabelStudioClient, user: str = "") -> list[PullReport]:
    """Pull every campaign, oldest first."""
    with session_scope(session_factory) as session:
        names = list(session.scalars(select(AnnotationCampaign.name).order_by(AnnotationCampaign.id)))
    return [pull_campaign(session_factory, admin, name, user) for name in names]
