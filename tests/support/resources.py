"""Dagster resources for tests: every resource shares one settings resource, as in orchestration/resources.py."""

from __future__ import annotations

from typing import Any

import dagster as dg

from assets.resources import (
    DicomStorageResource,
    EmrDatabaseResource,
    LabelStudioResource,
    MlflowResource,
    PacsResource,
    SgmSettingsResource,
)
from emr_core.settings import Settings


def settings_resource(settings: Settings, **fields: Any) -> SgmSettingsResource:
    """The settings resource for a test's data folder and database (plus any other field)."""
    return SgmSettingsResource(home=str(settings.root), database_url=settings.url, **fields)


def dagster_resources(
    settings: Settings, pacs_method: str = "move", **fields: object
) -> dict[str, dg.ConfigurableResource]:
    """emr_db, dicom_storage, label_studio and pacs on the test's settings."""
    sgm = settings_resource(settings, **fields)
    return {
        "sgm": sgm,
        "emr_db": EmrDatabaseResource(sgm=sgm),
        "dicom_storage": DicomStorageResource(sgm=sgm),
        "label_studio": LabelStudioResource(sgm=sgm),
        "pacs": PacsResource(sgm=sgm, method=pacs_method),
        "mlflow_tracking": MlflowResource(sgm=sgm),
    }


def run_sensor(
    sensor: dg.SensorDefinition,
    resources: dict[str, Any],
    cursor: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> Any:
    """Evaluate a sensor once; its nested resources only exist inside the context manager."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)
