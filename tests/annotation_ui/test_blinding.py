"""Blinding is verified after the fact: another user's edit or a prediction in a blind project is a violation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.blinding import violation_count
from annotation_ui.consolidation import consolidate_campaign
from emr_core.db import session_scope
from emr_core.models import AuditEvent
from emr_core.models_annotation import BlindingViolation, CampaignTask
from emr_core.settings import Settings
from tests.annotation_ui.test_double_reading import provision
from tests.support.annotation_scenario import ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv


def test_edits_by_others_and_predictions_are_violations(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    campaign_id = provision(label_studio, session_factory, ls_settings, corpus, "blinding")
    gt = ground_truth(corpus)
    with session_scope(session_factory) as session:
        t1, t2 = reader_tasks(session, "reader_1", campaign_id, gt)[:2]
        other = next(
            t for t in reader_tasks(session, "reader_2", campaign_id, gt) if t.campaign_task_id == t1.campaign_task_id
        )
    first = label_studio.reader("reader_1").create_annotation(t1.ls_task_id, read_result(t1.gt, t1.mappings))
    label_studio.reader("reader_2").create_annotation(other.ls_task_id, read_result(other.gt, other.mappings))
    # Label Studio CE lets reader 2 change reader 1's read through the API: nothing stops it there.
    label_studio.reader("reader_2").update_annotation(first, read_result(t1.gt, t1.mappings)[:2])
    label_studio.admin.create_prediction(t2.ls_task_id, read_result(t2.gt, t2.mappings), "model-1")
    report = consolidate_campaign(session_factory, label_studio.admin, "blinding")
    assert report.violations_new == 2
    with session_scope(session_factory) as session:
        kinds = sorted((v.kind, v.ls_task_id) for v in session.scalars(select(BlindingViolation)))
        state = session.get(CampaignTask, t1.campaign_task_id).state
        alerts = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "annotation.blinding_violation")
        ).all()
        assert violation_count(session, campaign_id) == 2
    assert kinds == sorted([("updated_by_other", t1.ls_task_id), ("predictions_shown", t2.ls_task_id)])
    assert state == "pending"  # the tainted read is never consolidated, although reader 2's read is in
    assert len(alerts) == 2 and all(a.outcome == 4 for a in alerts)
    assert consolidate_campaign(session_factory, label_studio.admin, "blinding").violations_new == 0  # recorded once
