"""Discordant sides go to the adjudication project, where a third reader sees both reads."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.client import LabelStudioClient
from emr_core.enums import CampaignTaskState
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, LabelStudioTask, ReaderAssignment


def _predictions(
    campaign: AnnotationCampaign, task_id: int, results: tuple[list[Any], list[Any]]
) -> list[dict[str, Any]]:
    """Both reads as predictions named 'read A'/'read B', in a random order per task so no reader is favoured."""
    ordered = list(results)
    random.Random(f"{campaign.seed}:adjudication:{task_id}").shuffle(ordered)
    return [{"model_version": f"read {name}", "result": result} for name, result in zip("AB", ordered, strict=False)]


def queue_for_adjudication(
    session: Session,
    admin: LabelStudioClient,
    campaign: AnnotationCampaign,
    adjudicator: ReaderAssignment,
    items: list[tuple[CampaignTask, dict[str, Any], tuple[list[Any], list[Any]]]],
) -> int:
    """Import discordant sides not queued yet, with both reads and the reasons; returns how many were added."""
    queued = set(
        session.scalars(select(LabelStudioTask.campaign_task_id).where(LabelStudioTask.assignment_id == adjudicator.id))
    )
    fresh = [item for item in items if item[0].id not in queued]
    if not fresh:
        return 0
    payload: list[dict[str, Any]] = [
        {
            "data": {**data, "discordance": "; ".join(task.discordance)},
            "predictions": _predictions(campaign, task.id, results),
        }
        for task, data, results in fresh
    ]
    ls_ids = admin.import_tasks(adjudicator.ls_project_id, payload)
    start = len(queued)
    session.add_all(
        LabelStudioTask(assignment_id=adjudicator.id, campaign_task_id=task.id, ls_task_id=ls_id, position=start + i)
        for i, ((task, _, _), ls_id) in enumerate(zip(fresh, ls_ids, strict=False))
    )
    session.flush()
    return len(fresh)


def adjudication_queue(session: Session, campaign_id: int) -> list[CampaignTask]:
    """Sides waiting for the adjudicator."""
    query = select(CampaignTask).where(
        CampaignTask.campaign_id == campaign_id, CampaignTask.state == CampaignTaskState.DISCORDANT
    )
    return list(session.scalars(query.order_by(CampaignTask.id)))
