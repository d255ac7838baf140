"""Resource types the assets are typed against: the EMR database and DICOM storage."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import dagster as dg
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.client import LabelStudioClient, admin_client
from emr_core.db import make_engine, make_session_factory
from emr_core.dimse.pacs import PacsClient
from emr_core.migrate import upgrade
from emr_core.settings import Settings, load_settings


class DicomStorageResource(dg.ConfigurableResource):
    """The data folder: managed DICOM storage, quarantine, conflicts and the incoming folder."""

    home: str = ""

    def settings(self) -> Settings:
        return load_settings(**({"home": self.home} if self.home else {}))


class EmrDatabaseResource(dg.ConfigurableResource):
    """The EMR database (SQLite in the data folder by default, MySQL/MariaDB in production)."""

    home: str = ""
    database_url: str = ""

    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.home:
            overrides["home"] = self.home
        if self.database_url:
            overrides["database_url"] = self.database_url
        return load_settings(**overrides)

    def sessions(self) -> sessionmaker[Session]:
        """A session factory on a database migrated to the latest schema."""
        settings = self.settings()
        settings.root.mkdir(parents=True, exist_ok=True)
        return _migrated_sessions(settings.url)


@lru_cache(maxsize=8)
def _migrated_sessions(url: str) -> sessionmaker[Session]:
    # One engine per database per process; migrating once keeps asset checks cheap.
    engine = make_engine(url)
    upgrade(engine)
    return make_session_factory(engine)


class LabelStudioResource(dg.ConfigurableResource):
    """Our Label Studio: an explicit URL and admin token, else the one `sgm labelstudio start` runs for SGM_HOME."""

    home: str = ""
    url: str = ""
    token: str = ""

    def client(self) -> LabelStudioClient:
        if self.url and self.token:
            return LabelStudioClient(self.url, self.token)
        return admin_client(load_settings(**({"home": self.home} if self.home else {})))


class PacsResource(dg.ConfigurableResource):
    """The hospital PACS we query (C-FIND) and retrieve from: C-MOVE to our receiver, or C-GET.

    Unset fields come from SGM_PACS_AE_TITLE/HOST/PORT and SGM_DICOM_AE_TITLE (our AE title,
    also the C-MOVE destination the PACS must know).
    """

    home: str = ""
    ae_title: str = ""
    host: str = ""
    port: int = 0
    method: str = "move"

    def settings(self) -> Settings:
        overrides: dict[str, object] = {"home": self.home} if self.home else {}
        for key, value in (("pacs_ae_title", self.ae_title), ("pacs_host", self.host), ("pacs_port", self.port)):
            if value:
                overrides[key] = value
        return load_settings(**overrides)

    def client(self, sessions: sessionmaker[Session]) -> PacsClient:
        return PacsClient(self.settings(), sessions)


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking server: an explicit URI, else the one `make run` starts, else SQLite in SGM_HOME."""

    home: str = ""
    tracking_uri: str = ""

    def uri(self) -> str:
        from datasets.site import tracking_uri

        if self.tracking_uri:
            return self.tracking_uri
        return tracking_uri(load_settings(**({"home": self.home} if self.home else {})))

    def client(self) -> Any:
        """An MlflowClient on that server (mlflow is imported only when used)."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri())
