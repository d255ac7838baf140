"""Resources per environment: one settings resource, configured from SGM_* variables through EnvVar."""

from __future__ import annotations

import os

import dagster as dg

from assets.resources import (
    DicomStorageResource,
    EmrDatabaseResource,
    LabelStudioResource,
    MlflowResource,
    PacsResource,
    SgmSettingsResource,
)


def _setting(name: str) -> str | dg.EnvVar:
    # EnvVar keeps the value out of the UI and is read at launch; unset means "use the default".
    return dg.EnvVar(name) if os.environ.get(name) else ""


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Every resource shares one settings resource; the rest of SGM_* is read by the settings themselves."""
    sgm = SgmSettingsResource(
        home=_setting("SGM_HOME"),
        database_url=_setting("SGM_DATABASE_URL"),
        label_studio_url=_setting("SGM_LABEL_STUDIO_URL"),
        label_studio_token=_setting("SGM_LABEL_STUDIO_TOKEN"),
    )
    return {
        "sgm": sgm,
        "emr_db": EmrDatabaseResource(sgm=sgm),
        "dicom_storage": DicomStorageResource(sgm=sgm),
        "pacs": PacsResource(sgm=sgm),
        "label_studio": LabelStudioResource(sgm=sgm),
        "mlflow_tracking": MlflowResource(sgm=sgm),
    }
