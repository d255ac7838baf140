"""When to retrain: exams whose read became final (consolidated) after the last training request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.enums import LedgerStage
from emr_core.models import LedgerEntry


@dataclass(frozen=True)
class NewFinalReads:
    """Distinct exams whose read became final after `after_id`, and the newest ledger entry id (the next cursor)."""

    exams: int
    last_entry_id: int


def final_reads_since(session: Session, after_id: int) -> NewFinalReads:
    """Counted from the studies' ANNOTATED ledger entries, written once per exam: not from the consolidated reads,
    which every consolidation pass replaces under new ids (each pass would count every exam again)."""
    newer = (
        select(LedgerEntry.id, LedgerEntry.study_id)
        .where(LedgerEntry.stage == LedgerStage.ANNOTATED.value, LedgerEntry.id > after_id)
        .subquery()
    )
    exams, last = session.execute(select(func.count(func.distinct(newer.c.study_id)), func.max(newer.c.id))).one()
    return NewFinalReads(int(exams or 0), int(last or after_id))
