"""Senior review task by task: a side enters review when its first read is submitted, not when the campaign does.

Entering review means the side is imported into the reviewer's project; the gateway then lets the reviewer open
the first reader's task of that side (and no other), and stops the first reader from changing it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotation_ui.campaigns import CampaignError, assignments_of
from annotation_ui.client import LabelStudioClient
from annotation_ui.schemes import READING, scheme_named
from emr_core.models_annotation import AnnotationCampaign, LabelStudioTask, ReaderAssignment


def review_pairs(campaign: AnnotationCampaign, roles: dict[str, ReaderAssignment]) -> list[tuple[str, str]]:
    """(reviewer role, first reader role) pairs of the campaign's scheme."""
    scheme = scheme_named(campaign.scheme)
    return [(v, o) for v in roles for o in roles if v != o and scheme.reviewed_only(v, o, READING)]


def _submitted(admin: LabelStudioClient, ls_task_id: int) -> bool:
    """A read was submitted (not skipped) on this Label Studio task."""
    return any(not a.get("was_cancelled") for a in admin.task_annotations(ls_task_id))


def _queue_one(session: Session, admin: LabelStudioClient, reviewer: ReaderAssignment, first: LabelStudioTask) -> None:
    position = session.scalar(
        select(func.count()).select_from(LabelStudioTask).where(LabelStudioTask.assignment_id == reviewer.id)
    )
    ls_ids = admin.import_tasks(reviewer.ls_project_id, [admin.task_data(first.ls_task_id)])
    if len(ls_ids) != 1:
        raise CampaignError(f"Label Studio did not create the review task of task {first.ls_task_id}")
    session.add(
        LabelStudioTask(
            assignment_id=reviewer.id,
            campaign_task_id=first.campaign_task_id,
            ls_task_id=ls_ids[0],
            position=int(position or 0),
        )
    )
    session.flush()


def queue_reviews(
    session: Session, admin: LabelStudioClient, campaign: AnnotationCampaign, only: set[int] | None = None
) -> int:
    """Queue for review every side whose first read is submitted (or only those Label Studio tasks); returns how
    many entered review now. Idempotent: a side already under review is not queued again."""
    roles = assignments_of(session, campaign.id)
    queued_now = 0
    for reviewer_role, first_role in review_pairs(campaign, roles):
        reviewer, first = roles[reviewer_role], roles[first_role]
        queued = select(LabelStudioTask.campaign_task_id).where(LabelStudioTask.assignment_id == reviewer.id)
        query = select(LabelStudioTask).where(
            LabelStudioTask.assignment_id == first.id, LabelStudioTask.campaign_task_id.not_in(queued)
        )
        if only is not None:
            query = query.where(LabelStudioTask.ls_task_id.in_(only))
        # A full pass also gives sides queued before tabs were made (an upgraded site) the tab they lack.
        backfill = only is None and session.scalar(queued.limit(1)) is not None
        before = queued_now
        for task in session.scalars(query.order_by(LabelStudioTask.position)).all():
            if _submitted(admin, task.ls_task_id):
                _queue_one(session, admin, reviewer, task)
                queued_now += 1
        if queued_now > before or backfill:
            # the Data Manager creates a tab on first opening a project, which the reviewer may not (read-only)
            admin.ensure_view(first.ls_project_id)
    return queued_now


def review_after_submit(session: Session, admin: LabelStudioClient, ls_task_id: int) -> int:
    """Called once a read of this Label Studio task was accepted: queue its side for review if its scheme says so."""
    campaign = session.scalar(
        select(AnnotationCampaign)
        .join(ReaderAssignment, ReaderAssignment.campaign_id == AnnotationCampaign.id)
        .join(LabelStudioTask, LabelStudioTask.assignment_id == ReaderAssignment.id)
        .where(LabelStudioTask.ls_task_id == ls_task_id)
    )
    if campaign is None or not review_pairs(campaign, assignments_of(session, campaign.id)):
        return 0
    return queue_reviews(session, admin, campaign, {ls_task_id})
