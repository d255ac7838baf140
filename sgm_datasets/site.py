"""The site's dataset store and MLflow tracking URI, from the typed settings."""

from __future__ import annotations

import socket

from emr_core.settings import Settings
from sgm_datasets.store import DatasetStore, open_store


def site_store(settings: Settings) -> DatasetStore:
    return open_store(
        settings.dataset_store_location,
        scratch=settings.root / "tmp" / "datasets",
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key_id,
        secret_key=settings.s3_secret,
        region=settings.s3_region,
    )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def tracking_uri(settings: Settings) -> str:
    """SGM_MLFLOW_TRACKING_URI, else the server `make run` starts if it answers, else SQLite in the data folder."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    if _answers(settings.mlflow_port):
        return f"http://127.0.0.1:{settings.mlflow_port}"
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}"
