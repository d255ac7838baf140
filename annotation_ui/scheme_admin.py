"""Choosing a campaign's reading scheme and moving it to another phase (audited)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from annotation_ui.campaigns import assignments_of, campaign_by_name
from annotation_ui.schemes import check_phase, scheme_named
from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId

# Provisioning creates reader_1, reader_2 and adjudicator projects; under senior review the second reader's
# project is the senior's (the senior reads after, and may open the first read).
SENIOR_FROM = "reader_2"


def set_scheme(session: Session, campaign_name: str, scheme_name: str, user: str = "") -> list[str]:
    """Set the scheme; returns the scheme's roles that have no project in this campaign (they see nothing)."""
    scheme = scheme_named(scheme_name)
    campaign = campaign_by_name(session, campaign_name)
    roles = assignments_of(session, campaign.id)
    if "senior" in scheme.roles and "senior" not in roles and SENIOR_FROM in roles:
        roles[SENIOR_FROM].role = "senior"
        roles["senior"] = roles.pop(SENIOR_FROM)
    previous, campaign.scheme = campaign.scheme, scheme.name
    _audit(session, user, campaign_name, {"scheme": [previous, scheme.name]})
    return [r for r in scheme.roles if r not in roles]


def set_phase(session: Session, campaign_name: str, phase: str, user: str = "") -> None:
    campaign = campaign_by_name(session, campaign_name)
    previous, campaign.phase = campaign.phase, check_phase(phase)
    _audit(session, user, campaign_name, {"phase": [previous, phase]})


def _audit(session: Session, user: str, campaign: str, change: dict[str, list[str]]) -> None:
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.APPLICATION_ACTIVITY,
            action=AuditAction.UPDATE,
            event_type="annotation.reading_scheme_changed",
            user_id=user,
            detail={"campaign": campaign, **change},
        ),
    )
