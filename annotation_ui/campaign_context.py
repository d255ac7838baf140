"""What one pass over a campaign needs in memory: assignments, tasks, Label Studio ids, pixel mappings, schema."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.campaigns import assignments_of
from annotation_ui.schema import Schema, build_schema
from emr_core.dicom.render import PixelMapping, mapping_for
from emr_core.models import Instance
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, LabelStudioTask, ReaderAssignment


@dataclass
class CampaignContext:
    """A campaign's rows, loaded once per step (sessions do not expire them on commit)."""

    campaign: AnnotationCampaign
    assignments: dict[str, ReaderAssignment]  # role -> assignment
    tasks: dict[int, CampaignTask]
    ls_tasks: dict[int, tuple[int, int]]  # ls task id -> (assignment id, campaign task id)
    mappings: dict[int, dict[str, PixelMapping]]
    schema: Schema


def load_context(session: Session, campaign: AnnotationCampaign) -> CampaignContext:
    assignments = assignments_of(session, campaign.id)
    tasks = {t.id: t for t in session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == campaign.id))}
    ls_tasks = {
        ls: (a, t)
        for ls, a, t in session.execute(
            select(LabelStudioTask.ls_task_id, LabelStudioTask.assignment_id, LabelStudioTask.campaign_task_id).where(
                LabelStudioTask.assignment_id.in_([a.id for a in assignments.values()])
            )
        )
    }
    ids = {i for t in tasks.values() for i in (t.cc_instance_id, t.mlo_instance_id)}
    sizes = {
        i: (int(c or 0), int(r or 0))
        for i, c, r in session.execute(select(Instance.id, Instance.columns, Instance.rows).where(Instance.id.in_(ids)))
    }
    mappings = {
        t.id: {
            "cc": mapping_for(*sizes[t.cc_instance_id], campaign.long_side),
            "mlo": mapping_for(*sizes[t.mlo_instance_id], campaign.long_side),
        }
        for t in tasks.values()
    }
    return CampaignContext(campaign, assignments, tasks, ls_tasks, mappings, build_schema(campaign.schema_config))
