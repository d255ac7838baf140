"""Discordant sides go to the adjudication project, where a third reader sees both reads."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import ADJUDICATOR, BLIND_ROLES, assignments_of, campaign_by_name
from annotation_ui.client import LabelStudioClient
from emr_core.db import session_scope
from emr_core.enums import CampaignTaskState
from emr_core.models_annotation import CampaignTask, LabelStudioTask, ReaderAssignment


@dataclass(frozen=True)
class AdjudicationItem:
    """One discordant side: why the reads disagree, and both readers' results."""

    campaign_task_id: int
    discordance: tuple[str, ...]
    results: tuple[list[Any], list[Any]]


@dataclass(frozen=True)
class _Queue:
    adjudicator_id: int
    project_id: int
    seed: int
    queued: set[int]  # campaign task ids already in the adjudication project
    reader_1_tasks: dict[int, int]  # campaign task id -> reader 1's Label Studio task id


def _predictions(seed: int, task_id: int, results: tuple[list[Any], list[Any]]) -> list[dict[str, Any]]:
    """Both reads as predictions named 'read A'/'read B', in a random order per task so no reader is favoured."""
    ordered = list(results)
    random.Random(f"{seed}:adjudication:{task_id}").shuffle(ordered)
    return [{"model_version": f"read {name}", "result": result} for name, result in zip("AB", ordered, strict=True)]


def _queue_state(session: Session, campaign_name: str) -> _Queue:
    campaign = campaign_by_name(session, campaign_name)
    assignments = assignments_of(session, campaign.id)
    adjudicator, reader_1 = assignments[ADJUDICATOR], assignments[BLIND_ROLES[0]]
    rows = session.execute(
        select(LabelStudioTask.assignment_id, LabelStudioTask.campaign_task_id, LabelStudioTask.ls_task_id).where(
            LabelStudioTask.assignment_id.in_([adjudicator.id, reader_1.id])
        )
    ).all()
    queued = {t for a, t, _ in rows if a == adjudicator.id}
    return _Queue(
        adjudicator.id,
        adjudicator.ls_project_id,
        campaign.seed,
        queued,
        {t: ls for a, t, ls in rows if a == reader_1.id},
    )


def _payload(admin: LabelStudioClient, queue: _Queue, item: AdjudicationItem) -> dict[str, Any]:
    """The side's images (as reader 1's task shows them), the reasons, and both reads as predictions."""
    data = {k: v for k, v in admin.task_data(queue.reader_1_tasks[item.campaign_task_id]).items() if k != "task_ref"}
    return {
        "data": {**data, "task_ref": item.campaign_task_id, "discordance": "; ".join(item.discordance)},
        "predictions": _predictions(queue.seed, item.campaign_task_id, item.results),
    }


def queue_for_adjudication(
    session_factory: sessionmaker[Session], admin: LabelStudioClient, campaign_name: str, items: list[AdjudicationItem]
) -> int:
    """Import discordant sides not queued yet; returns how many were added.

    Label Studio is called between two short transactions, never inside one.
    """
    if not items:
        return 0
    with session_scope(session_factory) as session:
        queue = _queue_state(session, campaign_name)
    fresh = [item for item in items if item.campaign_task_id not in queue.queued]
    if not fresh:
        return 0
    ls_ids = admin.import_tasks(queue.project_id, [_payload(admin, queue, item) for item in fresh])
    with session_scope(session_factory) as session:
        session.add_all(
            LabelStudioTask(
                assignment_id=queue.adjudicator_id,
                campaign_task_id=item.campaign_task_id,
                ls_task_id=ls_id,
                position=len(queue.queued) + i,
            )
            for i, (item, ls_id) in enumerate(zip(fresh, ls_ids, strict=True))
        )
    return len(fresh)


def adjudication_queue(session: Session, campaign_id: int) -> list[CampaignTask]:
    """Sides waiting for the adjudicator (none under open consensus, whose discordant sides wait for their readers)."""
    query = select(CampaignTask).where(
        CampaignTask.campaign_id == campaign_id,
        CampaignTask.state == CampaignTaskState.DISCORDANT,
        select(ReaderAssignment.id)
        .where(ReaderAssignment.campaign_id == campaign_id, ReaderAssignment.role == ADJUDICATOR)
        .exists(),
    )
    return list(session.scalars(query.order_by(CampaignTask.id)))
