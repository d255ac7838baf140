"""Inference: the champion model's predictions on every study that has none from that version yet."""

# No `from __future__ import annotations`: Dagster checks the context annotation at definition time.
import dagster as dg

from assets.resources import DicomStorageResource, EmrDatabaseResource
from sgm_models.inference import InferenceError, open_backend
from sgm_models.predict import predict_studies
from sgm_models.predictions import pending_studies


# pool "inference": model servers (or this machine's CPU) take few studies at once
# (`dagster instance concurrency set inference 1`); the thread pool inside is SGM_INFERENCE_WORKERS.
@dg.asset(group_name="models", deps=["dicom_instances"], kinds={"mlflow"}, pool="inference")
def model_predictions(
    context: dg.AssetExecutionContext, emr_db: EmrDatabaseResource, dicom_storage: DicomStorageResource
) -> dg.MaterializeResult:
    """Predictions of the configured model version (alias resolved per run) on studies it has not done."""
    settings = dicom_storage.settings()
    try:
        backend = open_backend(settings)
    except InferenceError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    sessions = emr_db.sessions()
    with sessions() as session:
        pending = pending_studies(session, backend.model.name, backend.model.version)
    try:
        report = predict_studies(sessions, settings.root, backend, pending, settings.inference_workers)
    finally:
        backend.close()
    context.log.info(report.summary())
    for reason, count in report.reasons.most_common():
        context.log.warning(f"{count} studies failed: {reason}")
    return dg.MaterializeResult(
        metadata={
            "model": backend.model.name,
            "model_version": backend.model.version,
            "pending": len(pending),
            "done": report.done,
            "failed": report.failed,
            "unchanged": report.unchanged,
            "failure_reasons": dg.MetadataValue.json(dict(report.reasons)),
        }
    )
