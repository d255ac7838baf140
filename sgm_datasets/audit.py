"""Every export and pull of a version is an Export (110106) audit event naming the user and the version."""

from __future__ import annotations

from sqlalchemy.orm import Session

from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome


def record_dataset_event(
    session: Session,
    kind: str,
    user: str,
    name: str,
    version: str,
    images: int,
    destination: str,
    role: str = "",
    failed: str = "",
) -> None:
    """kind: 'export' (a version written) or 'pull' (a version copied out)."""
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.EXPORT,
            action=AuditAction.READ,
            event_type=f"dataset.{kind}",
            outcome=AuditOutcome.MINOR_FAILURE if failed else AuditOutcome.SUCCESS,
            user_id=user,
            user_role=role,
            instance_count=images,
            detail={
                "dataset": name,
                "version": version,
                "destination": destination,
                **({"error": failed} if failed else {}),
            },
        ),
    )
