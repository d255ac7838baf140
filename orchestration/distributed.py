"""Scale-out: the ingest-and-link job on the celery executor, its steps spread over celery workers."""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_celery import celery_executor

INGEST_AND_LINK = "ingest_and_link_job"

# The broker and result backend come from the environment of whoever launches the run (webserver,
# daemon) and must match the `-y celery.yaml` the workers were started with.
CELERY_FROM_ENV: dict[str, Any] = {
    "broker": {"env": "SGM_CELERY_BROKER_URL"},
    "backend": {"env": "SGM_CELERY_BACKEND_URL"},
}

ingest_and_link_job = dg.define_asset_job(
    name=INGEST_AND_LINK,
    selection=dg.AssetSelection.assets("dicom_instances", "linked_studies"),
    executor_def=celery_executor,
    config={"execution": {"config": CELERY_FROM_ENV}},
    description="Ingest and link, each step (assets and checks) a celery task on any worker.",
)


def celery_run_config(broker: str, backend: str, queue: str = "dagster") -> dict[str, Any]:
    """Run config for ingest_and_link_job with an explicit broker, backend and worker queue."""
    return {
        "execution": {"config": {"broker": broker, "backend": backend, "config_source": {"task_default_queue": queue}}}
    }


def build_ingest_and_link_job() -> dg.JobDefinition:
    """The resolved job; `build_reconstructable_job` points the workers at this function."""
    from orchestration.definitions import defs  # the Definitions import this module

    return defs.resolve_job_def(INGEST_AND_LINK)


def reconstructable_ingest_and_link_job() -> dg.ReconstructableJob:
    """The job as celery workers re-import it (module and function names, not pickles)."""
    return dg.build_reconstructable_job(__name__, build_ingest_and_link_job.__name__)
