"""Resources the assets are typed against: one settings resource, and a client per external system."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.client import LabelStudioClient, admin_client
from emr_core.db import make_engine, make_session_factory
from emr_core.dimse.pacs import PacsClient
from emr_core.migrate import require_current
from emr_core.settings import Settings, load_settings


class SgmSettingsResource(dg.ConfigurableResource):
    """The platform settings (emr_core.settings): fields set here win, the rest come from SGM_* variables."""

    home: str = ""
    database_url: str = ""
    label_studio_url: str = ""
    label_studio_token: str = ""
    pacs_ae_title: str = ""
    pacs_host: str = ""
    pacs_port: int = 0
    mlflow_tracking_uri: str = ""
    detector_model_name: str = ""
    inference_model_alias: str = ""
    inference_remote_url: str = ""

    def get(self) -> Settings:
        """Typed, validated settings (ConfigError names a bad SGM_* value)."""
        overrides: dict[str, Any] = {k: v for k, v in self.model_dump().items() if v}
        return load_settings(**overrides)


class DicomStorageResource(dg.ConfigurableResource):
    """The data folder: managed DICOM storage, quarantine, conflicts, incoming and rendered images."""

    sgm: SgmSettingsResource

    def settings(self) -> Settings:
        return self.sgm.get()


class EmrDatabaseResource(dg.ConfigurableResource):
    """Sessions on the EMR database; never migrates it (only `sgm db upgrade` does)."""

    sgm: SgmSettingsResource

    def settings(self) -> Settings:
        return self.sgm.get()

    def sessions(self) -> sessionmaker[Session]:
        """A session factory; NotMigratedError when the schema is not the latest."""
        settings = self.settings()
        settings.root.mkdir(parents=True, exist_ok=True)
        # The settings travel with the sessions: the audit log finds its key and copies by them.
        return make_session_factory(_checked_engine(settings.url), settings)


@lru_cache(maxsize=8)
def _checked_engine(url: str) -> Engine:
    # One engine per database per process; a refusal raises and is not cached, so a later run retries.
    engine = make_engine(url)
    require_current(engine)
    return engine


class LabelStudioResource(dg.ConfigurableResource):
    """Our Label Studio as its admin: SGM_LABEL_STUDIO_URL/TOKEN, else the server `sgm labelstudio start` runs."""

    sgm: SgmSettingsResource

    def client(self) -> LabelStudioClient:
        return admin_client(self.sgm.get())


class PacsResource(dg.ConfigurableResource):
    """The hospital PACS we query (C-FIND) and retrieve from: C-MOVE to our receiver, or C-GET.

    Its address comes from the settings (SGM_PACS_AE_TITLE/HOST/PORT); our AE title, also the
    C-MOVE destination the PACS must know, from SGM_DICOM_AE_TITLE.
    """

    sgm: SgmSettingsResource
    method: str = "move"

    def settings(self) -> Settings:
        return self.sgm.get()

    @property
    def retrieve_method(self) -> Literal["move", "get"]:
        """C-MOVE (the PACS sends to our receiver) or C-GET (images come back on the same association)."""
        if self.method == "get":
            return "get"
        if self.method == "move":
            return "move"
        raise ValueError(f"PacsResource.method: {self.method!r} is neither move nor get")

    def client(self, sessions: sessionmaker[Session]) -> PacsClient:
        return PacsClient(self.settings(), sessions)


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking server: an explicit URI, else the one `make run` starts, else SQLite in SGM_HOME."""

    sgm: SgmSettingsResource

    def uri(self) -> str:
        from sgm_datasets.site import tracking_uri

        return tracking_uri(self.sgm.get())

    def client(self) -> Any:
        """An MlflowClient on that server (mlflow is imported only when used)."""
        from sgm_datasets.mlflow_log import mlflow_client

        return mlflow_client(self.uri())
