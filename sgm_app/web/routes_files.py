"""A patient's documents: upload (with progress in the browser), list, preview and download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from emr_core.clinical.files import CATEGORIES, FileRejected, attach_file, blob_path, check_category, store_blob
from emr_core.clinical.patients import PatientNotFound, get_patient, merged_away_into, writable_patient
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models_clinical import PatientFile
from sgm_app.api.routers.patients import ref
from sgm_app.web.deps import Web, signed_in
from sgm_app.web.render import gettext_for, translate

router = APIRouter(include_in_schema=False)
Reader = Annotated[Web, Depends(signed_in(Permission.FILE_READ))]
Writer = Annotated[Web, Depends(signed_in(Permission.FILE_WRITE))]
PREVIEWABLE = {"image/png", "image/jpeg", "application/pdf", "text/plain"}


def _listing(web: Web, patient_id: int, status: int = 200, **values: object) -> Response:
    try:
        with web.ctx.read() as session:
            patient = get_patient(session, patient_id)
            survivor = merged_away_into(session, patient_id)
            files = list(
                session.scalars(
                    select(PatientFile).where(PatientFile.patient_id == patient_id).order_by(PatientFile.id)
                )
            )
            session.expunge_all()
    except PatientNotFound:
        return web.page("not_found.html", 404)
    web.ctx.audit(AuditEventId.PATIENT_RECORD, AuditAction.READ, event_type="file_list", patient_ref=ref(patient_id))
    categories = sorted(CATEGORIES)
    return web.page(
        "files/list.html", status, patient=patient, files=files, categories=categories, survivor=survivor, **values
    )


@router.get("/ui/patients/{patient_id}/files")
def listing(web: Reader, patient_id: int) -> Response:
    return _listing(web, patient_id, errors={}, form={})


def _rejection(web: Web, exc: FileRejected) -> dict[str, str]:
    _ = gettext_for(web.request)
    if exc.field == "category":
        return {"category": _("Choose one of the listed values.")}
    message = {
        415: _("This kind of file is not accepted: use PDF, PNG, JPEG or plain text."),
        413: _("The file is larger than the upload limit."),
    }.get(exc.status, _("The file is empty."))
    return {"file": message}


@router.post("/ui/patients/{patient_id}/files")
def upload(
    web: Writer,
    patient_id: int,
    file: Annotated[UploadFile | None, File()] = None,
    category: Annotated[str, Form(max_length=32)] = "other",
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    web.check_csrf(csrf_token)
    form = {"category": category}
    if file is None or not file.filename:
        return _listing(web, patient_id, 422, errors={"file": translate(web.request, "Choose a file.")}, form=form)
    content_type = (file.content_type or "application/octet-stream").split(";")[0].strip().lower()
    try:
        check_category(category)
        with web.ctx.read() as session:
            writable_patient(session, patient_id)  # PatientMergedError: the 409 page names the surviving record
        blob = store_blob(web.ctx.state.files_root, file.file, content_type, web.ctx.state.max_upload_bytes)
        with web.ctx.write() as session:
            writable_patient(session, patient_id)  # a merge may have happened while the bytes arrived
            row = attach_file(
                session, patient_id, blob, file.filename, content_type, category, web.ctx.principal.username
            )
            web.ctx.log(
                session,
                AuditEventId.PATIENT_RECORD,
                AuditAction.CREATE,
                event_type="file_upload",
                patient_ref=ref(patient_id),
                detail={"file": row.id, "sha256": blob.sha256, "category": category},
            )
            file_id = row.id
    except PatientNotFound:
        return web.page("not_found.html", 404)
    except FileRejected as exc:
        return _listing(web, patient_id, 422, errors=_rejection(web, exc), form=form)
    return web.redirect(f"/ui/files/{file_id}?saved=1")


def _file(web: Web, file_id: int) -> PatientFile | None:
    with web.ctx.read() as session:
        row = session.get(PatientFile, file_id)
        if row is not None:
            session.expunge(row)
    return row


@router.get("/ui/files/{file_id}")
def preview(web: Reader, file_id: int) -> Response:
    row = _file(web, file_id)
    if row is None:
        return web.page("not_found.html", 404)
    with web.ctx.read() as session:
        patient = get_patient(session, row.patient_id)
        session.expunge(patient)
    web.ctx.audit(
        AuditEventId.PATIENT_RECORD,
        AuditAction.READ,
        event_type="file_preview",
        patient_ref=ref(row.patient_id),
        detail={"file": row.id},
    )
    return web.page("files/preview.html", row=row, patient=patient, previewable=row.content_type in PREVIEWABLE)


@router.get("/ui/files/{file_id}/content")
def content(web: Reader, file_id: int, download: int = 0) -> Response:
    row = _file(web, file_id)
    if row is None:
        return web.page("not_found.html", 404)
    path = blob_path(web.ctx.state.files_root, row.sha256)
    if not path.exists():
        return web.page("not_found.html", 410)
    web.ctx.audit(
        AuditEventId.PATIENT_RECORD,
        AuditAction.READ,
        event_type="file_download",
        patient_ref=ref(row.patient_id),
        detail={"file": row.id, "sha256": row.sha256},
    )
    # nosniff: an uploaded file is shown as what it claims to be (the type was checked on upload), never as a page.
    headers = {"X-Content-Type-Options": "nosniff"}
    if row.content_type == "text/plain":
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    disposition = "attachment" if download else "inline"
    return FileResponse(
        path, media_type=row.content_type, filename=row.filename, content_disposition_type=disposition, headers=headers
    )
