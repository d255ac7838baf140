"""When to retrain: exams whose final (consolidated) read arrived after the last training request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.models_annotation import CampaignTask, ConsolidatedRead


@dataclass(frozen=True)
class NewFinalReads:
    """Distinct exams with a final read after `after_id`, and the newest read id (the next cursor)."""

    exams: int
    last_read_id: int


def final_reads_since(session: Session, after_id: int) -> NewFinalReads:
    """Consolidated reads are written per study side once its reading scheme calls the side final; ids only grow."""
    newer = (
        select(ConsolidatedRead.id, CampaignTask.study_id)
        .join(CampaignTask, CampaignTask.id == ConsolidatedRead.campaign_task_id)
        .where(ConsolidatedRead.id > after_id)
        .subquery()
    )
    exams, last = session.execute(select(func.count(func.distinct(newer.c.study_id)), func.max(newer.c.id))).one()
    return NewFinalReads(int(exams or 0), int(last or after_id))
