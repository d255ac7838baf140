"""Why reads were rejected: the problems of the latest rejected revisions, for reports and Dagster checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emr_core.models_annotation import AnnotationCampaign, AnnotationRevision, CampaignTask


def rejection_reasons(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The newest rejected revisions (at most `limit`) with their campaign, task, annotation and problems."""
    rows = session.execute(
        select(AnnotationRevision, AnnotationCampaign.name)
        .join(CampaignTask, CampaignTask.id == AnnotationRevision.campaign_task_id)
        .join(AnnotationCampaign, AnnotationCampaign.id == CampaignTask.campaign_id)
        .where(AnnotationRevision.valid.is_(False))
        .order_by(AnnotationRevision.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "campaign": name,
            "campaign_task": rev.campaign_task_id,
            "ls_annotation": rev.ls_annotation_id,
            "completed_by": rev.completed_by,
            "problems": list(rev.problems),
        }
        for rev, name in rows
    ]
