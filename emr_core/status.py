"""A summary of what the platform holds, for `sgm status` and the Dagster UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.enums import LinkStatus
from emr_core.models import (
    Instance,
    InstanceConflict,
    LinkDecision,
    Patient,
    QuarantinedFile,
    Study,
)


@dataclass(frozen=True)
class PlatformStatus:
    patients: int
    provisional_patients: int
    studies: int
    unlinked_studies: int
    instances: int
    instances_by_modality: dict[str, int] = field(default_factory=dict)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    links_by_method: dict[str, int] = field(default_factory=dict)
    review_queue: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grouped(session: Session, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(key): int(count) for key, count in rows}


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def platform_status(session: Session) -> PlatformStatus:
    """Count patients, studies, instances, quarantine, conflicts, links and the review queue."""
    current = LinkDecision.is_current.is_(True)
    return PlatformStatus(
        patients=_count(session, Patient),
        provisional_patients=_count(session, Patient, Patient.provisional.is_(True)),
        studies=_count(session, Study),
        unlinked_studies=_count(session, Study, Study.patient_id.is_(None)),
        instances=_count(session, Instance),
        instances_by_modality=_grouped(session, Instance.modality),
        # Resolved files (re-ingested or dismissed by a person) no longer need attention.
        quarantined_by_reason=_grouped(session, QuarantinedFile.reason, QuarantinedFile.resolution.is_(None)),
        conflicts=_count(session, InstanceConflict),
        links_by_method=_grouped(session, LinkDecision.method, current, LinkDecision.status != LinkStatus.REVIEW.value),
        review_queue=_count(session, LinkDecision, current, LinkDecision.status == LinkStatus.REVIEW.value),
    )


@dataclass(frozen=True)
class OrientationGaps:
    """Mammograms whose laterality or view could not be determined from any header source."""

    missing_laterality: int
    missing_view: int
    examples: list[str]


def orientation_gaps(session: Session, limit: int = 10) -> OrientationGaps:
    """Count MG instances lacking laterality or view, with a few SOP Instance UIDs to look at."""
    mammo = Instance.is_mammogram.is_(True)
    missing_lat = _count(session, Instance, mammo, Instance.laterality.is_(None))
    missing_view = _count(session, Instance, mammo, Instance.view.is_(None))
    examples = session.scalars(
        select(Instance.sop_instance_uid)
        .where(mammo, (Instance.laterality.is_(None)) | (Instance.view.is_(None)))
        .limit(limit)
    ).all()
    return OrientationGaps(missing_lat, missing_view, list(examples))
