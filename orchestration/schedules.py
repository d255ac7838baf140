"""Nightly schedules: catch anything the sensors missed, re-link pending studies."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.jobs import evaluate_followup_job, ingest_dicom_job, pull_mammography_job

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


@dg.schedule(
    name="nightly_pacs_pull_schedule",
    job=pull_mammography_job,
    cron_schedule="30 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,  # start it once SGM_PACS_* name the hospital PACS
    description="01:30 every night: pull the previous day's mammography studies from the PACS.",
)
def nightly_pacs_pull_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, run_config={"ops": {"pacs_mammography_studies": {"config": {"day": day}}}})
