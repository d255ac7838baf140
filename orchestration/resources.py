"""Resources per environment: configured from SGM_* variables through EnvVar."""

from __future__ import annotations

import os

import dagster as dg

from assets.resources import (
    DicomStorageResource,
    EmrDatabaseResource,
    LabelStudioResource,
    MlflowResource,
    PacsResource,
)


def _setting(name: str) -> str | dg.EnvVar:
    # EnvVar keeps the value out of the UI and is read at launch; unset means "use the default".
    return dg.EnvVar(name) if os.environ.get(name) else ""


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "emr_db": EmrDatabaseResource(home=_setting("SGM_HOME"), database_url=_setting("SGM_DATABASE_URL")),
        "dicom_storage": DicomStorageResource(home=_setting("SGM_HOME")),
        "pacs": PacsResource(home=_setting("SGM_HOME")),  # the PACS itself: SGM_PACS_* at launch
        "label_studio": LabelStudioResource(
            home=_setting("SGM_HOME"), url=_setting("SGM_LABEL_STUDIO_URL"), token=_setting("SGM_LABEL_STUDIO_TOKEN")
        ),
        "mlflow_tracking": MlflowResource(home=_setting("SGM_HOME"), tracking_uri=_setting("SGM_MLFLOW_TRACKING_URI")),
    }
