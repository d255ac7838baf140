"""De-identified exams for researchers: pseudonyms, age at exam and assessments; never names or ids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from emr_core.clinical.exam_reports import current_reports
from emr_core.clinical.pseudonyms import pseudonym
from emr_core.clinical.roles import Permission
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Patient, Series, Study
from sgm_app.api.deps import Ctx, require
from sgm_app.api.errors import documented
from sgm_app.api.inputs import OffsetQuery

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
