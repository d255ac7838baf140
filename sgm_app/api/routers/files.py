"""Documents attached to a patient: upload (size and type checked), list, download."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select

from emr_core.clinical.files import (
    CATEGORIES,
    SNIFFERS,
    FileRejected,
    attach_file,
    blob_path,
    check_category,
    store_blob,
)
from emr_core.clinical.patients import writable_patient
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_clinical import PatientFile
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import ApiError, documented
from sgm_app.api.inputs import IdPath
from sgm_app.api.record_views import file_view
from sgm_app.api.routers.patients import ref

# The categories as an enum, so the OpenAPI document lists them.
FileCategory = StrEnum("FileCategory", {name: name for name in sorted(CATEGORIES)})  # type: ignore[misc]
OTHER = FileCategory("other")
router = APIRouter(tags=["files"], responses=documented(401, 403, 422))


def _content_type(upload: UploadFile) -> str:
    return (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()


@router.post(
    "/patients/{patient_id}/files",
    status_code=201,
    summary="Attach a document (PDF, PNG, JPEG or text)",
    responses=documented(400, 404, 409, 413, 415),
)
def upload(
    patient_id: IdPath,
    ctx: Annotated[Ctx, Depends(require(Permission.FILE_WRITE))],
    file: Annotated[UploadFile, File()],
    category: Annotated[FileCategory, Form()] = OTHER,
) -> dict[str, Any]:
    content_type = _content_type(file)
    try:
        check_category(category.value)
        with ctx.read() as session:
            writable_patient(session, patient_id)
        # Stored before the transaction, so a slow upload never holds the database's write lock;
        # a blob whose row then fails to commit is harmless (content-addressed, reused by a retry).
        blob = store_blob(ctx.state.files_root, file.file, content_type, ctx.state.max_upload_bytes)
        with ctx.write() as session:
            writable_patient(session, patient_id)  # a merge may have happened while the bytes arrived
            row = attach_file(
                session,
                patient_id,
                blob,
                file.filename or "upload",
                content_type,
                category.value,
                ctx.principal.username,
            )
            ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.CREATE,
                event_type="file_upload",
                patient_ref=ref(patient_id),
                detail={"file": row.id, "sha256": blob.sha256, "category": category.value},
            )
            return file_view(row)
    except FileRejected as exc:
        raise ApiError(exc.status, str(exc), exc.field) from None


@router.get("/patients/{patient_id}/files", summary="A patient's attached documents")
def listing(patient_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.FILE_READ))]) -> list[dict[str, Any]]:
    with ctx.read() as session:
        rows = [
            file_view(r)
            for r in session.scalars(
                select(PatientFile).where(PatientFile.patient_id == patient_id).order_by(PatientFile.id)
            )
        ]
    ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="file_list", patient_ref=ref(patient_id))
    return rows


@router.get(
    "/files/{file_id}/content",
    responses={
        **documented(404, 410),
        200: {
            "description": "The document's bytes, with the content type it was uploaded as",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(SNIFFERS)},
        },
    },
    response_class=FileResponse,
    summary="Download a document with its content type",
)
def download(file_id: IdPath, ctx: Annotated[Ctx, Depends(require(Permission.FILE_READ))]) -> FileResponse:
    with ctx.read() as session:
        row = session.get(PatientFile, file_id)
    if row is None:
        raise ApiError(404, f"file {file_id} not found")
    path = blob_path(ctx.state.files_root, row.sha256)
    if not path.exists():
        raise ApiError(410, f"file {file_id}: stored content {row.sha256} is missing from storage")
    ctx.audit(
        AuditEventId.PATIENT_RECORD,
        AuditAction.READ,
        event_type="file_download",
        patient_ref=ref(row.patient_id),
        detail={"file": row.id, "sha256": row.sha256},
    )
    # nosniff: a browser must not reinterpret an uploaded text file as HTML or script.
    return FileResponse(
        path, media_type=row.content_type, filename=row.filename, headers={"X-Content-Type-Options": "nosniff"}
    )
