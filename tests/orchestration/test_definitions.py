"""The Definitions load, and every job, schedule and sensor resolves."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs


def test_every_job_schedule_and_sensor_resolves() -> None:
    repo = defs.get_repository_def()
    jobs = {job.name for job in repo.get_all_jobs()}
    assert {"ingest_dicom_job", "link_studies_job"} <= jobs
    for name in jobs - {"__ASSET_JOB"}:
        job = repo.get_job(name)
        assert job.graph.node_defs, f"job {name} resolved to no ops"
    schedules = {s.name: s for s in repo.schedule_defs}
    sensors = {s.name: s for s in repo.sensor_defs}
    assert schedules["nightly_ingest_schedule"].job_name == "ingest_dicom_job"
    assert sensors["incoming_dicom_sensor"].job_name == "ingest_dicom_job"


def test_assets_and_checks_are_real_and_connected() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"dicom_instances", "linked_studies"} <= keys
    assert graph.get(dg.AssetKey("linked_studies")).parent_keys == {dg.AssetKey("dicom_instances")}
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "dicom_instances_orientation",
        "dicom_instances_conflicts",
        "dicom_instances_quarantine",
        "linked_studies_unlinked",
    } <= checks
    # The blinding check gates the decision: it sits on the pulled reads, upstream of the findings.
    assert graph.get(dg.AssetKey("consolidated_findings")).parent_keys == {dg.AssetKey("annotation_reads")}
    assert "annotation_reads_blinding" in checks


def test_the_retraining_loop_is_wired() -> None:
    repo = defs.get_repository_def()
    sensors = {s.name: s for s in repo.sensor_defs}
    assert sensors["adjudicated_exams_sensor"].job_name == "retrain_detector_job"
    job = repo.get_job("retrain_detector_job")
    assert {"training_dataset", "baseline_detector", "champion_detector"} <= {n.name for n in job.graph.node_defs}
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("baseline_detector")).parent_keys == {dg.AssetKey("training_dataset")}
    assert graph.get(dg.AssetKey("champion_detector")).parent_keys == {dg.AssetKey("baseline_detector")}
