"""Validation of a read at submit time, against its campaign's BI-RADS schema and the images it was drawn on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation_ui.schema import build_schema
from annotation_ui.validation import validate_result
from emr_core.dicom.render import mapping_for
from emr_core.models import Instance
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, LabelStudioTask


def submit_problems(session: Session, ls_task_id: int, payload: Any) -> list[str] | None:
    """Why this submission must be refused (empty when it is valid; None when the task is not a campaign's)."""
    row = session.execute(
        select(CampaignTask, AnnotationCampaign)
        .join(LabelStudioTask, LabelStudioTask.campaign_task_id == CampaignTask.id)
        .join(AnnotationCampaign, AnnotationCampaign.id == CampaignTask.campaign_id)
        .where(LabelStudioTask.ls_task_id == ls_task_id)
    ).first()
    if row is None:
        return None
    if not isinstance(payload, dict):
        return ["the submission is not a JSON object"]
    if payload.get("was_cancelled"):
        return []  # a skipped task carries no read
    result = payload.get("result")
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        return ["the submission has no result list"]
    task, campaign = row
    sizes = {}
    for view, instance_id in (("cc", task.cc_instance_id), ("mlo", task.mlo_instance_id)):
        inst = session.get(Instance, instance_id)
        if inst is not None and inst.columns and inst.rows:
            mapping = mapping_for(inst.columns, inst.rows, campaign.long_side)
            sizes[view] = (mapping.png_width, mapping.png_height)
    return validate_result(result, build_schema(campaign.schema_config or None), sizes)


def refusal_message(problems: list[str]) -> str:
    """One readable sentence for the reader, naming each box and what it lacks."""
    shown = problems[:6]
    more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
    return "This read cannot be submitted yet: " + "; ".join(shown) + more + "."
