"""Sensors: react to files arriving in the incoming folder."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from typing import Any

import dagster as dg

from annotation_ui.client import RequestError
from annotation_ui.consolidation import annotation_fingerprint
from annotation_ui.server import LabelStudioError
from assets.resources import DicomStorageResource, EmrDatabaseResource, LabelStudioResource
from emr_core.db import session_scope
from emr_core.dicom.incoming import incoming_snapshot
from emr_core.dimse.auditing import received_since
from orchestration.jobs import consolidate_annotations_job, ingest_dicom_job

# Files must be quiet this long before a run starts, so a copy in progress is not cut in half.
SETTLE_SECONDS = 3.0


ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _ingest_in_progress(instance: dg.DagsterInstance) -> bool:
    # Two runs moving files out of the same folder would only race each other.
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=ingest_dicom_job.name, statuses=ACTIVE_STATUSES), limit=1)
    return bool(runs)


def _last_ingest_failed(instance: dg.DagsterInstance, run_key: str) -> bool:
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=ingest_dicom_job.name, tags={"dagster/run_key": run_key}), limit=1
    )
    return bool(runs) and runs[0].status == dg.DagsterRunStatus.FAILURE


@dg.sensor(
    name="incoming_dicom_sensor",
    job=ingest_dicom_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launch an ingest when files have settled in the incoming folder.",
)
def incoming_dicom_sensor(
    context: dg.SensorEvaluationContext, dicom_storage: DicomStorageResource
) -> dg.SensorResult | dg.SkipReason:
    folder = dicom_storage.settings().incoming_dir
    snapshot = incoming_snapshot(folder)
    if not snapshot.settled(SETTLE_SECONDS):
        return dg.SkipReason(f"{snapshot.files} file(s) in {folder}, nothing settled to ingest")
    if _ingest_in_progress(context.instance):
        return dg.SkipReason("an ingest run is still in progress; waiting for it to finish")
    if context.cursor == snapshot.key:
        if _last_ingest_failed(context.instance, snapshot.key):
            return dg.SkipReason(
                f"the ingest run for the {snapshot.files} file(s) in {folder} failed: re-execute it "
                "from the Runs page once fixed (the nightly schedule retries too)"
            )
        return dg.SkipReason(f"{snapshot.files} file(s) in {folder} already handed to a run")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=snapshot.key, tags={"sgm/incoming_files": str(snapshot.files)})],
        cursor=snapshot.key,
    )


@dg.sensor(
    name="new_annotations_sensor",
    job=consolidate_annotations_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Consolidate when the annotation counts of any campaign project change in Label Studio.",
)
def new_annotations_sensor(
    context: dg.SensorEvaluationContext, emr_db: EmrDatabaseResource, label_studio: LabelStudioResource
) -> dg.SensorResult | dg.SkipReason:
    try:
        fingerprint = annotation_fingerprint(emr_db.sessions(), label_studio.client())
    except (LabelStudioError, RequestError) as exc:
        return dg.SkipReason(f"Label Studio not reachable: {exc}")
    if not fingerprint:
        return dg.SkipReason("no annotation campaign yet")
    if fingerprint == context.cursor:
        return dg.SkipReason("no new annotations since the last consolidation")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=fingerprint)], cursor=fingerprint)


@dg.sensor(
    name="dicom_receiver_sensor",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Show what `sgm dicom serve` stored, indexed and linked as materializations.",
)
def dicom_receiver_sensor(
    context: dg.SensorEvaluationContext, emr_db: EmrDatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    # The receiver ingests and links in its own worker (no run): report that work here so the
    # assets' history shows it, with the callers and counts from the audit log.
    with session_scope(emr_db.sessions()) as session:
        batch = received_since(session, int(context.cursor or 0))
    if batch is None:
        return dg.SkipReason("nothing received over DICOM since the last check")
    metadata: dict[str, Any] = {
        "source": "DICOM receiver",
        "associations": batch.associations,
        "instances": batch.instances,
        "callers": ", ".join(batch.callers) or "none",
        "studies": len(batch.study_uids),
    }
    events = [
        dg.AssetMaterialization(asset_key=key, metadata=metadata) for key in ("dicom_instances", "linked_studies")
    ]
    return dg.SensorResult(asset_events=events, cursor=str(batch.last_event_id))
