"""What a reader may open now, read from the campaigns' schemes, phases and assignments (for the gateway)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from annotation_ui.access import Grants
from annotation_ui.images import document_path
from annotation_ui.schemes import ADJUDICATION, READING, ReadingScheme, scheme_named
from emr_core.audit import AuditRecord, record_event
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome
from emr_core.models import Instance, Study
from emr_core.models_annotation import (
    AnnotationCampaign,
    AnnotationReader,
    CampaignTask,
    LabelStudioTask,
    ReaderAssignment,
)
from emr_core.settings import Settings


def effective_phase(session: Session, campaign: AnnotationCampaign) -> str:
    """The stored phase, moved on to adjudication as soon as the adjudicator has a task queued."""
    if campaign.phase != READING:
        return campaign.phase
    queued = session.scalar(
        select(func.count())
        .select_from(LabelStudioTask)
        .join(ReaderAssignment, ReaderAssignment.id == LabelStudioTask.assignment_id)
        .where(ReaderAssignment.campaign_id == campaign.id, ReaderAssignment.role == "adjudicator")
    )
    return ADJUDICATION if queued else READING


def grants_for(session: Session, email: str) -> Grants:
    """The projects (and, under senior review, the tasks) this Label Studio user may open now (none for a user who
    is not a registered reader)."""
    reader = session.scalars(select(AnnotationReader).where(AnnotationReader.email == email.strip().lower())).first()
    grants = _GrantsBuilder(email)
    if reader is None:
        return grants.build()
    campaign_ids = select(ReaderAssignment.campaign_id).where(ReaderAssignment.reader_id == reader.id)
    for campaign in session.scalars(select(AnnotationCampaign).where(AnnotationCampaign.id.in_(campaign_ids))):
        roles = {
            a.role: a
            for a in session.scalars(select(ReaderAssignment).where(ReaderAssignment.campaign_id == campaign.id))
        }
        scheme, phase = scheme_named(campaign.scheme), effective_phase(session, campaign)
        for mine in (r for r, a in roles.items() if a.reader_id == reader.id):
            if scheme.predictions_shown(mine, phase):
                grants.predictions.add(roles[mine].ls_project_id)
            for owner, write in scheme.visible(mine, phase).items():
                if owner not in roles:
                    continue
                grants.add(roles[owner].ls_project_id, write)
                if scheme.reviewed_only(mine, owner, phase):
                    grants.limit(roles[owner].ls_project_id, reviewed_tasks(session, roles[owner], roles[mine]))
                elif write and (reviewer := _reviewer_of(scheme, owner, phase, roles)) is not None:
                    grants.read_only |= reviewed_tasks(session, roles[owner], reviewer)
    return grants.build()


@dataclass
class _GrantsBuilder:
    email: str
    projects: dict[int, bool] = field(default_factory=dict)
    only: dict[int, frozenset[int]] = field(default_factory=dict)
    read_only: set[int] = field(default_factory=set)
    predictions: set[int] = field(default_factory=set)

    def add(self, project: int, write: bool) -> None:
        self.projects[project] = self.projects.get(project, False) or write

    def limit(self, project: int, tasks: set[int]) -> None:
        self.only[project] = self.only.get(project, frozenset()) | tasks

    def build(self) -> Grants:
        # a project the reader also sees in full (another role of theirs) is not limited
        full = {p for p in self.projects if p not in self.only}
        only = {p: t for p, t in self.only.items() if p not in full}
        return Grants(self.email, self.projects, only, frozenset(self.read_only), frozenset(self.predictions))


def _reviewer_of(
    scheme: ReadingScheme, owner: str, phase: str, roles: dict[str, ReaderAssignment]
) -> ReaderAssignment | None:
    """The assignment of the role that reviews `owner`'s reads task by task, if the scheme has one."""
    for role, assignment in roles.items():
        if role != owner and scheme.reviewed_only(role, owner, phase):
            return assignment
    return None


def reviewed_tasks(session: Session, owner: ReaderAssignment, reviewer: ReaderAssignment) -> set[int]:
    """The owner's Label Studio tasks whose side is queued in the reviewer's project (under review)."""
    queued = select(LabelStudioTask.campaign_task_id).where(LabelStudioTask.assignment_id == reviewer.id)
    return set(
        session.scalars(
            select(LabelStudioTask.ls_task_id).where(
                LabelStudioTask.assignment_id == owner.id, LabelStudioTask.campaign_task_id.in_(queued)
            )
        )
    )


def task_project(session: Session, ls_task_id: int) -> int | None:
    """The Label Studio project of one of our tasks (None for a task the platform did not create)."""
    return session.scalar(
        select(ReaderAssignment.ls_project_id)
        .join(LabelStudioTask, LabelStudioTask.assignment_id == ReaderAssignment.id)
        .where(LabelStudioTask.ls_task_id == ls_task_id)
    )


def document_tasks(session: Session, settings: Settings, document: str) -> frozenset[int]:
    """The Label Studio tasks that show this rendered file ("<long side>/<SOP instance UID>.png", as campaigns.py
    names it); none for a file of a name we did not give (a UID rewritten by safe_component is never matched)."""
    size, _, name = document.partition("/")
    if not size.isdigit() or not name.endswith(".png") or "/" in name:
        return frozenset()
    uid = name.removesuffix(".png")
    if document_path(settings, uid, int(size)) != document:
        return frozenset()
    rows = session.scalars(
        select(LabelStudioTask.ls_task_id)
        .join(CampaignTask, CampaignTask.id == LabelStudioTask.campaign_task_id)
        .join(AnnotationCampaign, AnnotationCampaign.id == CampaignTask.campaign_id)
        .join(Instance, or_(Instance.id == CampaignTask.cc_instance_id, Instance.id == CampaignTask.mlo_instance_id))
        .where(Instance.sop_instance_uid == uid, AnnotationCampaign.long_side == int(size))
    )
    return frozenset(int(t) for t in rows)


def access_state(session: Session) -> tuple[object, ...]:
    """A fingerprint of everything grants_for and document_tasks read: it changes when a phase, a scheme, an
    assignment, a reader or a queued task (adjudication, review) changes, so answers cached under it are dropped."""
    aggregates = (
        func.count(LabelStudioTask.id),
        func.max(LabelStudioTask.id),
        func.count(ReaderAssignment.id),
        func.max(ReaderAssignment.id),
        func.sum(ReaderAssignment.reader_id),
        func.count(AnnotationReader.id),
        func.max(AnnotationReader.id),
    )
    sums = tuple(session.execute(select(*(select(a).scalar_subquery() for a in aggregates))).one())
    campaigns = session.execute(
        select(AnnotationCampaign.id, AnnotationCampaign.scheme, AnnotationCampaign.phase).order_by(
            AnnotationCampaign.id
        )
    )
    return sums + tuple(tuple(row) for row in campaigns)


@dataclass(frozen=True)
class GatewayEvent:
    """One request the gateway audits."""

    email: str
    address: str
    method: str
    uri: str
    reason: str


def audit_refusal(session: Session, event: GatewayEvent) -> None:
    """A refused request is a security alert."""
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.SECURITY_ALERT,
            action=AuditAction.EXECUTE,
            event_type="annotation.access_refused",
            outcome=AuditOutcome.MINOR_FAILURE,
            user_id=event.email,
            network_address=event.address,
            detail={"method": event.method, "uri": event.uri[:500], "reason": event.reason},
        ),
    )


def audit_task_opened(session: Session, event: GatewayEvent, ls_task_id: int) -> None:
    """A reader opened a task: the two images of one breast side were shown."""
    row = session.execute(
        select(CampaignTask, Study.study_uid)
        .join(LabelStudioTask, LabelStudioTask.campaign_task_id == CampaignTask.id)
        .join(Study, Study.id == CampaignTask.study_id)
        .where(LabelStudioTask.ls_task_id == ls_task_id)
    ).first()
    task, study_uid = row if row else (None, "")
    uids = (
        list(
            session.scalars(
                select(Instance.sop_instance_uid).where(Instance.id.in_([task.cc_instance_id, task.mlo_instance_id]))
            )
        )
        if task
        else []
    )
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.INSTANCES_ACCESSED,
            action=AuditAction.READ,
            event_type="annotation.task_opened",
            user_id=event.email,
            network_address=event.address,
            study_uid=study_uid,
            instance_count=len(uids),
            detail={"ls_task_id": ls_task_id, "uri": event.uri[:500], "sop_instance_uids": uids},
        ),
    )
