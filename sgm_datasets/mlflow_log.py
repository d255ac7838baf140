"""Each version as an MLflow dataset (digest, source, schema, counts per split), and runs found by it."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

EXPERIMENT = "sgm-datasets"
# MLflow keeps a dataset digest in 36 characters: the first 32 hex digits of the version id.
DIGEST_LENGTH = 32


def mlflow_digest(version: str) -> str:
    return version[:DIGEST_LENGTH]


def _mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


def mlflow_client(tracking_uri: str) -> Any:
    """A client whose registry is the tracking server too, whatever an earlier call left global."""
    return _mlflow().MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def use_tracking(tracking_uri: str) -> Any:
    """Point mlflow's process-global tracking and registry URIs at one server; returns the mlflow module.

    Always both: a registry URI left by an earlier call would send registrations to another server.
    """
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return mlflow


def as_mlflow_dataset(manifest: pd.DataFrame, name: str, version: str, source_uri: str) -> Any:
    mlflow = _mlflow()
    return mlflow.data.from_pandas(manifest, source=source_uri, name=name, digest=mlflow_digest(version))


def log_input(manifest: pd.DataFrame, name: str, version: str, source_uri: str, context: str = "training") -> None:
    """In the active run: the version as an input (what a training run calls)."""
    mlflow = _mlflow()
    mlflow.log_input(as_mlflow_dataset(manifest, name, version, source_uri), context=context)


def log_version(
    tracking_uri: str, manifest: pd.DataFrame, name: str, version: str, source_uri: str, counts: dict[str, Any]
) -> str:
    """A run in the datasets experiment registering the version; returns its run id."""
    mlflow = use_tracking(tracking_uri)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"{name}@{version[:12]}") as run:
        mlflow.log_input(as_mlflow_dataset(manifest, name, version, source_uri), context="dataset-version")
        mlflow.set_tags({"sgm.dataset": name, "sgm.version": version, "sgm.source": source_uri})
        mlflow.log_params({f"{split}.{k}": v for split, c in counts.items() for k, v in c.items()})
        return str(run.info.run_id)


def runs_with_version(tracking_uri: str, version: str) -> list[str]:
    """Run ids, in any experiment, whose inputs include the version."""
    client = mlflow_client(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"dataset.digest = '{mlflow_digest(version)}'")
    return [r.info.run_id for r in runs]
