"""The platform's Dagster Definitions: assets, checks, jobs, schedules, sensors, resources."""

from __future__ import annotations

import dagster as dg

from assets import ingest, linking
from orchestration.jobs import ingest_dicom_job, link_studies_job
from orchestration.resources import default_resources
from orchestration.schedules import nightly_ingest_schedule
from orchestration.sensors import incoming_dicom_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest, linking]),
    asset_checks=dg.load_asset_checks_from_modules([ingest, linking]),
    jobs=[ingest_dicom_job, link_studies_job],
    schedules=[nightly_ingest_schedule],
    sensors=[incoming_dicom_sensor],
    resources=default_resources(),
)
