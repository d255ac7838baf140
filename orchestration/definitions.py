"""The platform's Dagster Definitions: assets, checks, jobs, schedules, sensors, resources."""

from __future__ import annotations

import dagster as dg

from assets import annotation, datasets, followup, inference, ingest, linking, model_feedback, models, pacs, quality
from orchestration.distributed import ingest_and_link_job
from orchestration.jobs import (
    check_quality_gates_job,
    consolidate_annotations_job,
    evaluate_followup_job,
    export_training_dataset_job,
    ingest_dicom_job,
    link_studies_job,
    pull_mammography_job,
    render_annotation_images_job,
    retrain_detector_job,
)
from orchestration.model_sensors import adjudicated_exams_sensor
from orchestration.quality_sensors import run_succeeded_quality_sensor
from orchestration.resources import default_resources
from orchestration.schedules import nightly_followup_schedule, nightly_ingest_schedule, nightly_pacs_pull_schedule
from orchestration.sensors import dicom_receiver_sensor, incoming_dicom_sensor, new_annotations_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [ingest, linking, followup, annotation, pacs, datasets, inference, model_feedback, models]
    ),
    asset_checks=dg.load_asset_checks_from_modules([ingest, linking, annotation, quality]),
    jobs=[
        ingest_dicom_job,
        link_studies_job,
        evaluate_followup_job,
        render_annotation_images_job,
        consolidate_annotations_job,
        pull_mammography_job,
        ingest_and_link_job,
        check_quality_gates_job,
        export_training_dataset_job,
        retrain_detector_job,
    ],
    schedules=[nightly_ingest_schedule, nightly_followup_schedule, nightly_pacs_pull_schedule],
    sensors=[
        incoming_dicom_sensor,
        new_annotations_sensor,
        dicom_receiver_sensor,
        run_succeeded_quality_sensor,
        adjudicated_exams_sensor,
    ],
    resources=default_resources(),
)
