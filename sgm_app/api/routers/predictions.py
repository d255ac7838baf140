"""Model predictions on a study: run the configured model on demand, and read what every version found."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Study
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented
from sgm_app.api.inputs import IdPath
from sgm_app.api.routers.patients import ref
from sgm_models.inference import InferenceError, open_backend
from sgm_models.predict import predict_study
from sgm_models.predictions import study_predictions

router = APIRouter(tags=["model predictions"], responses=documented(401, 403, 422))
BOXES = "boxes are {x_min, y_min, x_max, y_max, score, label} in DICOM pixels (x_max/y_max exclusive)"


def _study(ctx: Ctx, study_id: int) -> Study:
    with ctx.read() as session:
        study = session.get(Study, study_id)
        if study is None:
            raise ApiError(404, f"study {study_id} not found")
        session.expunge(study)
    return study


def _audit(ctx: Ctx, study: Study, action: AuditAction, detail: dict[str, Any], count: int = 0) -> None:
    ctx.audit(
        AuditEventId.PATIENT_RECORD,
        action,
        event_type="model_predictions",
        patient_ref=ref(study.patient_id) if study.patient_id else "",
        study_uid=study.study_uid,
        accession_number=study.accession_number,
        instance_count=count,
        detail=detail,
    )


@router.post(
    "/studies/{study_id}/predictions",
    summary="Run the configured model (SGM_DETECTOR_MODEL_NAME@SGM_INFERENCE_MODEL_ALIAS) on a study's mammograms",
    description="Idempotent: the same model version on the same images stores nothing new (`outcome` unchanged). "
    "A model failure is stored as a failed status with its reason and answered 200; run again to retry. "
    f"Answers the study's predictions by that version; {BOXES}.",
    responses=documented(404, 503),
)
def run(study_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.PREDICTION_RUN))]) -> dict[str, Any]:
    study = _study(ctx, study_id)
    try:
        backend = open_backend(ctx.state.settings)
    except InferenceError as exc:
        raise ApiError(503, str(exc)) from None
    try:
        outcome = predict_study(ctx.state.sessions, ctx.state.settings.root, backend, study_id)
    finally:
        backend.close()
    model = backend.model
    with ctx.read() as session:
        found = [p for p in study_predictions(session, study_id, model.name) if p["model_version"] == model.version]
    detail = {"model": model.name, "version": model.version, "outcome": outcome.status}
    _audit(ctx, study, AuditAction.EXECUTE, detail, sum(len(p["images"]) for p in found))
    return {"study_id": study_id, "outcome": outcome.status, "reason": outcome.reason, "predictions": found}


@router.get(
    "/studies/{study_id}/predictions",
    summary="What each model version found on a study: status, exam score and boxes per image",
    description=f"Newest first; failed runs carry their reason and no images. {BOXES}.",
    responses=documented(404),
)
def read(
    study_id: IdPath,
    ctx: Annotated[Ctx, Depends(require(Permission.IMAGE_READ))],
    model: Annotated[str | None, Query(max_length=200, description="only this registered model")] = None,
) -> dict[str, Any]:
    study = _study(ctx, study_id)
    with ctx.read() as session:
        found = study_predictions(session, study_id, model)
    _audit(ctx, study, AuditAction.READ, {"model": model or ""}, sum(len(p["images"]) for p in found))
    return {"study_id": study_id, "study_uid": study.study_uid, "predictions": found}
