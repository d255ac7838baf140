"""Nightly schedules: catch anything the sensors missed, re-link pending studies."""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import evaluate_followup_job, ingest_dicom_job

nightly_ingest_schedule = dg.ScheduleDefinition(
    name="nightly_ingest_schedule",
    job=ingest_dicom_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: ingest whatever is waiting and link pending studies.",
)

nightly_followup_schedule = dg.ScheduleDefinition(
    name="nightly_followup_schedule",
    job=evaluate_followup_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:00 every night, after ingest: follow-up tasks from the BI-RADS rules.",
)
