"""Inference: the champion model's predictions on every study that has none from that version yet."""

# No `from __future__ import annotations`: Dagster checks the context annotation at definition time.
import dagster as dg

from annotation_ui.preannotations import push_to_reading_campaigns
from assets.resources import DicomStorageResource, EmrDatabaseResource, LabelStudioResource
from emr_core.db import session_scope
from sgm_models.inference import InferenceError, configured_version, open_backend
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


@dg.asset(group_name="models", deps=[model_predictions], kinds={"labelstudio"})
def ai_preannotations(
    context: dg.AssetExecutionContext,
    emr_db: EmrDatabaseResource,
    dicom_storage: DicomStorageResource,
    label_studio: LabelStudioResource,
) -> dg.MaterializeResult:
    """The configured model version's boxes as pre-annotations in campaigns reading under an AI-assisted scheme."""
    settings = dicom_storage.settings()
    try:
        name, version = settings.detector_model_name, configured_version(settings)
    except InferenceError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    with session_scope(emr_db.sessions()) as session:
        pushed, skipped = push_to_reading_campaigns(session, label_studio.client(), name, version)
    for name, report in pushed.items():
        context.log.info(f"campaign {name}: {report.created} tasks pre-annotated, {report.already_there} already were")
    for name, reason in skipped.items():
        context.log.warning(f"campaign {name}: {reason}")
    return dg.MaterializeResult(
        metadata={
            "model": name,
            "model_version": version,
            "campaigns": len(pushed),
            "tasks_preannotated": sum(r.created for r in pushed.values()),
            "tasks_already_preannotated": sum(r.already_there for r in pushed.values()),
            "campaigns_skipped": dg.MetadataValue.json(skipped),
        }
    )
