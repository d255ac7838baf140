"""Annotation assets, checks and sensor, called directly with real resources and a real Label Studio."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import provision_campaign
from annotation_ui.readers import register_reader
from assets.annotation import (
    annotation_images,
    annotation_reads,
    annotation_reads_blinding,
    consolidated_findings,
    consolidated_findings_valid,
)
from emr_core.db import session_scope
from emr_core.enums import LedgerStage
from emr_core.models import LedgerEntry
from emr_core.settings import Settings
from orchestration.sensors import new_annotations_sensor
from tests.support.annotation_scenario import ground_truth, ingest, read_result, reader_tasks, side_items
from tests.support.lsenv import LabelStudioEnv, settings_for
from tests.support.resources import dagster_resources, run_sensor


def _resources(env: LabelStudioEnv, settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return dagster_resources(settings, label_studio_url=env.server.url, label_studio_token=env.admin.token)


def test_assets_checks_and_sensor(
    label_studio: LabelStudioEnv, engine: Engine, session_factory: sessionmaker[Session], corpus: Path
) -> None:
    settings = settings_for(label_studio, engine)
    res = _resources(label_studio, settings)
    study_ids = ingest(session_factory, settings, corpus)
    rendered = annotation_images(dg.build_asset_context(), res["emr_db"], res["dicom_storage"])
    assert rendered.metadata["studies_completed"] == 8 and rendered.metadata["failed"] == 0
    with session_scope(session_factory) as session:
        assert len(session.scalars(select(LedgerEntry).where(LedgerEntry.stage == LedgerStage.RENDERED)).all()) == 8
        for account in label_studio.readers.values():
            register_reader(session, account)
    emails = [label_studio.readers[r].email for r in ("reader_1", "reader_2", "adjudicator")]
    campaign = provision_campaign(
        session_factory, settings, label_studio.admin, "assets", study_ids, (emails[0], emails[1]), emails[2]
    ).campaign_id
    sensor_resources = {k: res[k] for k in ("emr_db", "label_studio")}
    first = run_sensor(new_annotations_sensor, sensor_resources)
    gt = ground_truth(corpus)
    with session_scope(session_factory) as session:
        tasks = {r: reader_tasks(session, r, campaign, gt) for r in ("reader_1", "reader_2")}
    for role, role_tasks in tasks.items():
        for t in role_tasks[:3]:
            label_studio.reader(role).create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))
    second = run_sensor(new_annotations_sensor, sensor_resources, cursor=first.cursor)
    assert isinstance(second, dg.SensorResult) and second.cursor != first.cursor and len(second.run_requests) == 1
    assert isinstance(run_sensor(new_annotations_sensor, sensor_resources, cursor=second.cursor), dg.SkipReason)
    reads = annotation_reads(dg.build_asset_context(), res["emr_db"], res["label_studio"])
    assert reads.metadata["campaigns"] == 1 and reads.metadata["assets/revisions_new"] == 6
    assert annotation_reads_blinding(res["emr_db"]).passed
    result = consolidated_findings(dg.build_asset_context(), res["emr_db"], res["label_studio"])
    assert result.metadata["campaigns"] == 1 and result.metadata["findings"] >= 0
    assert consolidated_findings_valid(res["emr_db"]).passed
    # Reader 2 edits one of reader 1's reads: recorded, and the blocking check fails.
    victim = label_studio.admin.get(f"/api/tasks/{tasks['reader_1'][0].ls_task_id}/annotations")[0]["id"]
    label_studio.reader("reader_2").update_annotation(
        victim, read_result(tasks["reader_1"][0].gt, tasks["reader_1"][0].mappings)[:2]
    )
    annotation_reads(dg.build_asset_context(), res["emr_db"], res["label_studio"])
    check = annotation_reads_blinding(res["emr_db"])
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["blinding_violations"].value == 1
    # A read that breaks the schema, sent straight to Label Studio (not through the gateway): the check says why.
    broken = tasks["reader_1"][3]
    label_studio.reader("reader_1").create_annotation(broken.ls_task_id, side_items("z", broken.gt.assessment))
    annotation_reads(dg.build_asset_context(), res["emr_db"], res["label_studio"])  # reads are pulled and checked here
    consolidated_findings(dg.build_asset_context(), res["emr_db"], res["label_studio"])
    valid = consolidated_findings_valid(res["emr_db"])
    reasons = valid.metadata["reasons"].value
    assert not valid.passed and valid.metadata["rejected_revisions"].value == 1
    assert reasons[0]["campaign"] == "assets" and "breast composition must be one of" in reasons[0]["problems"][0]
