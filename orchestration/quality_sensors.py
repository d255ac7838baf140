"""Evaluate the quality gates after each successful ingest or consolidation run."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

import dagster as dg

from orchestration.jobs import check_quality_gates_job, consolidate_annotations_job, ingest_dicom_job


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_dicom_job, consolidate_annotations_job],
    request_job=check_quality_gates_job,
    description="Run the quality gates over what a successful ingest or consolidation produced.",
)
def run_succeeded_quality_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"quality-{context.dagster_run.run_id}")
