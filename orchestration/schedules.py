"""Nightly schedules: catch anything the sensors missed, re-link pending studies."""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import ingest_dicom_job

nightly_ingest_schedule = dg.ScheduleDefinition(
    name="nightly_ingest_schedule",
    job=ingest_dicom_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: ingest whatever is waiting and link pending studies.",
)
