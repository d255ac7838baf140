"""Test helpers: ingest the corpus, and turn its ground truth into Label Studio results as a reader would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.demo_reads import GtFinding, GtSide, finding_items, load_ground_truth, read_result, side_items
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.dicom.render import PixelMapping, mapping_for
from emr_core.models import Instance, Study
from emr_core.models_annotation import CampaignTask, LabelStudioTask, ReaderAssignment
from emr_core.settings import Settings

__all__ = ["GtFinding", "GtSide", "finding_items", "ground_truth", "ingest", "read_result", "side_items"]


def ground_truth(corpus: Path) -> dict[tuple[str, str], GtSide]:
    """Ground truth per (study UID, side): the demo readers' own loader, on a corpus folder."""
    return load_ground_truth(corpus / "ground_truth")


def ingest(session_factory: sessionmaker[Session], settings: Settings, corpus: Path) -> list[int]:
    """Ingest the corpus; returns the study ids."""
    ingest_paths(session_factory, settings, [corpus / "dicom"])
    with session_scope(session_factory) as session:
        return list(session.scalars(select(Study.id).order_by(Study.id)))


@dataclass(frozen=True)
class LsTask:
    """A reader's Label Studio task with what it shows."""

    ls_task_id: int
    campaign_task_id: int
    position: int
    gt: GtSide
    mappings: dict[str, PixelMapping]


def reader_tasks(
    session: Session, role: str, campaign_id: int, gt: dict[tuple[str, str], GtSide], long_side: int = 1024
) -> list[LsTask]:
    """One reader's tasks in their reading order."""
    query = (
        select(LabelStudioTask, CampaignTask, Study.study_uid)
        .join(ReaderAssignment, ReaderAssignment.id == LabelStudioTask.assignment_id)
        .join(CampaignTask, CampaignTask.id == LabelStudioTask.campaign_task_id)
        .join(Study, Study.id == CampaignTask.study_id)
        .where(ReaderAssignment.campaign_id == campaign_id, ReaderAssignment.role == role)
        .order_by(LabelStudioTask.position)
    )
    out = []
    for ls_task, task, study_uid in session.execute(query):
        cc, mlo = session.get_one(Instance, task.cc_instance_id), session.get_one(Instance, task.mlo_instance_id)
        mappings = {
            "cc": mapping_for(int(cc.columns or 0), int(cc.rows or 0), long_side),
            "mlo": mapping_for(int(mlo.columns or 0), int(mlo.rows or 0), long_side),
        }
        out.append(LsTask(ls_task.ls_task_id, task.id, ls_task.position, gt[(study_uid, task.laterality)], mappings))
    return out
