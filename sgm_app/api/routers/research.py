"""De-identified exams for researchers: pseudonyms, age at exam and assessments; never names or ids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from sqlalchemy import func, select

from emr_core.clinical.exam_reports import current_reports
from emr_core.clinical.pseudonyms import pseudonym
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Patient, Series, Study
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import documented
from sgm_app.api.inputs import OffsetQuery
from sgm_datasets.errors import DatasetError, StoreUnreachableError, UnknownVersionError

router = APIRouter(prefix="/research", tags=["research (de-identified)"], responses=documented(401, 403, 422))


def _age(born: Any, on: Any) -> int | None:
    if born is None or on is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@router.get("/exams", summary="Reported exams, de-identified: patient and exam pseudonyms, age, BI-RADS")
def exams(
    ctx: Annotated[Ctx, Depends(require(Permission.RESEARCH_READ))],
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    secret = ctx.state.pseudonym_secret
    images = (
        select(Series.study_id, func.count(Instance.id).label("n"))
        .join(Instance, Instance.series_id == Series.id)
        .group_by(Series.study_id)
        .subquery()
    )
    with ctx.read() as session:
        rows = session.execute(
            select(Study.id, Study.patient_id, Study.study_date, Patient.birth_date, func.coalesce(images.c.n, 0))
            .join(Patient, Patient.id == Study.patient_id)
            .outerjoin(images, images.c.study_id == Study.id)
            .order_by(Study.id)
            .offset(offset)
            .limit(limit)
        ).all()
        reports = current_reports(session, [r[0] for r in rows])
    result = [
        {
            "patient": pseudonym(secret, "patient", pid),
            "exam": pseudonym(secret, "study", sid),
            "age_at_exam": _age(born, when),
            "exam_year": when.year if when else None,
            "images": n,
            "assessment": reports[sid].assessment if sid in reports else None,
            "composition": reports[sid].composition if sid in reports else None,
        }
        for sid, pid, when, born, n in rows
    ]
    ctx.audit(AuditEventId.QUERY, AuditAction.READ, event_type="research_exams", detail={"results": len(result)})
    return {"exams": result, "offset": offset, "count": len(result)}


# Dataset versions (datasets/): read-only; the store is the site's (SGM_DATASET_STORE).
DatasetName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
VersionRef = Annotated[str, Path(pattern=r"^([0-9a-f]{6,64}|latest)$")]
_DATASET_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No such dataset or version"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {"description": "The dataset store cannot be reached"},
}


def _store(ctx: Ctx) -> Any:
    from sgm_datasets.site import site_store

    return site_store(ctx.state.settings)


def _dataset_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except UnknownVersionError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except StoreUnreachableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except DatasetError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _versions(store: Any) -> list[dict[str, Any]]:
    from sgm_datasets.pull import read_header

    out = []
    for name in store.names():
        for version in store.versions(name):
            header = read_header(store, name, version)
            out.append({"name": name, "version": version, "created_at": header.get("created_at"),
                        "parent": header.get("parent"), "counts": header.get("counts", {})})  # fmt: skip
    return sorted(out, key=lambda v: (v["name"], v["created_at"] or ""))


@router.get(
    "/datasets",
    summary="Training dataset versions: name, version id, parent, counts per split",
    status_code=status.HTTP_200_OK,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: _DATASET_ERRORS[status.HTTP_503_SERVICE_UNAVAILABLE]},
)
def dataset_versions(ctx: Annotated[Ctx, Depends(require(Permission.RESEARCH_READ))]) -> dict[str, Any]:
    versions = _dataset_call(_versions, _store(ctx))
    ctx.audit(AuditEventId.QUERY, AuditAction.READ, event_type="research_datasets", detail={"results": len(versions)})
    return {"versions": versions, "count": len(versions)}


@router.get(
    "/datasets/{name}/{version}",
    summary="A version's header: provenance, de-identification, checks, exclusions, files with sha256",
    status_code=status.HTTP_200_OK,
    responses=_DATASET_ERRORS,
)
def dataset_header(
    ctx: Annotated[Ctx, Depends(require(Permission.RESEARCH_READ))], name: DatasetName, version: VersionRef
) -> dict[str, Any]:
    from sgm_datasets.pull import read_header, resolve

    store = _store(ctx)
    full = _dataset_call(resolve, store, name, version)
    header: dict[str, Any] = _dataset_call(read_header, store, name, full)
    ctx.audit(
        AuditEventId.QUERY, AuditAction.READ, event_type="research_dataset", detail={"dataset": name, "version": full}
    )
    return header


@router.get(
    "/datasets/{name}/{version}/manifest",
    summary="A version's manifest (parquet, one row per image)",
    status_code=status.HTTP_200_OK,
    response_class=Response,
    responses={status.HTTP_200_OK: {"content": {"application/vnd.apache.parquet": {}}}, **_DATASET_ERRORS},
)
def dataset_manifest(
    ctx: Annotated[Ctx, Depends(require(Permission.RESEARCH_READ))], name: DatasetName, version: VersionRef
) -> Response:
    from sgm_datasets.export import MANIFEST
    from sgm_datasets.pull import resolve

    store = _store(ctx)
    full = _dataset_call(resolve, store, name, version)
    data: bytes = _dataset_call(store.read, name, full, MANIFEST)
    ctx.audit(
        AuditEventId.EXPORT,
        AuditAction.READ,
        event_type="dataset.manifest",
        detail={"dataset": name, "version": full, "destination": "research api"},
    )
    return Response(
        data,
        media_type="application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="{name}-{full[:12]}-manifest.parquet"'},
    )
