"""Detectors: the baseline trained on the latest dataset version, and the champion decided on a held-out split."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import getpass

import dagster as dg

from assets.datasets import DATASET_NAME, training_dataset
from assets.resources import EmrDatabaseResource, MlflowResource
from detection.baseline import BaselineConfig
from emr_core.db import session_scope
from sgm_datasets.errors import DatasetError
from sgm_models.errors import ModelError


class DetectorTrainingConfig(dg.Config):
    dataset: str = DATASET_NAME
    version: str = "latest"
    iterations: int = 150
    seed: int = 0


class PromotionConfig(dg.Config):
    dataset: str = DATASET_NAME
    version: str = "latest"
    min_gain: float = 0.0


@dg.asset(group_name="models", deps=[training_dataset], kinds={"mlflow", "scikitlearn"})
def baseline_detector(
    config: DetectorTrainingConfig, emr_db: EmrDatabaseResource, mlflow_tracking: MlflowResource
) -> dg.MaterializeResult:
    """The baseline detector trained on a dataset version, measured on its test split, registered in MLflow."""
    from sgm_models.training import TrainingRequest, train_detector

    settings = emr_db.settings()
    request = TrainingRequest(
        config.dataset, config.version, settings.detector_model_name,
        BaselineConfig(iterations=config.iterations, seed=config.seed),
    )  # fmt: skip
    try:
        report = train_detector(settings, request, mlflow_tracking.uri())
    except (ModelError, DatasetError) as exc:
        raise dg.Failure(description=str(exc)) from None
    return dg.MaterializeResult(
        data_version=dg.DataVersion(f"{report.model_name}/{report.model_version}"),
        metadata={
            "model": report.model_name,
            "model_version": report.model_version,
            "aliases": ", ".join(report.aliases),
            "dataset_version": report.dataset_version,
            "mlflow_run": report.run_id,
            "trivial_test_froc_score": report.trivial.froc_score,
            **{k.replace(".", "_"): v for k, v in report.test.metrics("test").items()},
        },
    )


@dg.asset(group_name="models", deps=[baseline_detector], kinds={"mlflow"})
def champion_detector(
    config: PromotionConfig, emr_db: EmrDatabaseResource, mlflow_tracking: MlflowResource
) -> dg.MaterializeResult:
    """Champion and challenger compared on one held-out dataset version; champion moves (audited) if not worse."""
    from sgm_models.registry import ModelRegistry, promote

    settings = emr_db.settings()
    name = settings.detector_model_name
    try:
        with session_scope(emr_db.sessions()) as session:
            result = promote(
                session, settings, ModelRegistry(mlflow_tracking.uri()), name, config.dataset, config.version,
                f"dagster:{getpass.getuser()}", config.min_gain,
            )  # fmt: skip
    except (ModelError, DatasetError) as exc:
        raise dg.Failure(description=str(exc)) from None
    champion = result.challenger if result.moved else result.champion
    scores = {
        f"{role}_froc_score": e.froc_score
        for role, e in (("champion", result.champion_eval), ("challenger", result.challenger_eval))
        if e is not None
    }
    return dg.MaterializeResult(
        data_version=dg.DataVersion(f"{name}/{champion}"),
        metadata={
            "model": name,
            "champion": champion,
            "moved": result.moved,
            "dataset_version": result.dataset_version,
            **scores,
        },
    )
