"""Verify after the fact what Label Studio CE cannot enforce: each project was read only by its reader."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models_annotation import BlindingViolation, ReaderAssignment


@dataclass(frozen=True)
class Violation:
    """One breach of blinding found in a project export."""

    ls_annotation_id: int
    ls_task_id: int
    kind: str  # made_by_other, updated_by_other, predictions_shown
    detail: str


def find_violations(
    exported: list[dict[str, Any]], reader_user_id: int, predicted: AbstractSet[int] = frozenset()
) -> list[Violation]:
    """Annotations made or last changed by anyone but the assigned reader; tasks of a blind project with predictions."""
    found = [
        Violation(0, task_id, "predictions_shown", "a blind project task carries predictions")
        for task_id in sorted(predicted)
    ]
    for task in exported:
        task_id = int(task["id"])
        for ann in task.get("annotations", []):
            made, changed = ann.get("completed_by"), ann.get("updated_by")
            made = made.get("id") if isinstance(made, dict) else made
            if made != reader_user_id:
                found.append(
                    Violation(
                        int(ann["id"]),
                        task_id,
                        "made_by_other",
                        f"made by user {made}, project belongs to user {reader_user_id}",
                    )
                )
            if changed is not None and changed != reader_user_id:
                found.append(
                    Violation(
                        int(ann["id"]),
                        task_id,
                        "updated_by_other",
                        f"updated by user {changed}, project belongs to user {reader_user_id}",
                    )
                )
    return found


def record_violations(session: Session, assignment: ReaderAssignment, violations: list[Violation]) -> int:
    """Store violations not seen before, each with a security audit event; returns how many were new."""
    known = set(
        session.execute(
            select(BlindingViolation.ls_annotation_id, BlindingViolation.ls_task_id, BlindingViolation.kind).where(
                BlindingViolation.assignment_id == assignment.id
            )
        ).all()
    )
    new = [v for v in dict.fromkeys(violations) if (v.ls_annotation_id, v.ls_task_id, v.kind) not in known]
    for v in new:
        session.add(
            BlindingViolation(
                campaign_id=assignment.campaign_id,
                assignment_id=assignment.id,
                ls_annotation_id=v.ls_annotation_id,
                ls_task_id=v.ls_task_id,
                kind=v.kind,
                detail=v.detail,
            )
        )
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.SECURITY_ALERT,
                action=AuditAction.EXECUTE,
                outcome=AuditOutcome.MINOR_FAILURE,
                event_type="annotation.blinding_violation",
                detail={
                    "project": assignment.ls_project_id,
                    "role": assignment.role,
                    "annotation": v.ls_annotation_id,
                    "task": v.ls_task_id,
                    "kind": v.kind,
                    "detail": v.detail,
                },
            ),
        )
    session.flush()
    return len(new)


def violation_count(session: Session, campaign_id: int | None = None) -> int:
    """Blinding violations recorded (for one campaign, or all)."""
    query = select(func.count()).select_from(BlindingViolation)
    if campaign_id is not None:
        query = query.where(BlindingViolation.campaign_id == campaign_id)
    return int(session.scalar(query) or 0)
