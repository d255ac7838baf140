"""Step 2 of consolidation, database only: decide each side from the stored reads and store the findings.

The reads were fetched and validated by `annotation_ui.pull` (the `annotation_reads` asset); no
Label Studio call happens inside this step's transaction. Discordant sides are handed back so the
caller queues them for adjudication afterwards (`annotation_ui.adjudication`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.adjudication import AdjudicationItem, queue_for_adjudication
from annotation_ui.agreement import agreement
from annotation_ui.campaign_context import CampaignContext, load_context
from annotation_ui.campaigns import campaign_by_name
from annotation_ui.client import LabelStudioClient
from annotation_ui.decisions import DECIDERS, Decisions
from annotation_ui.pull import pull_campaign
from annotation_ui.reads import Finding
from annotation_ui.schemes import SCHEMES
from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.enums import FINAL_TASK_STATES, AuditAction, AuditEventId, LedgerStage
from emr_core.models import LedgerEntry
from emr_core.models_annotation import (
    AnnotationCampaign,
    AnnotationRevision,
    BlindingViolation,
    CampaignTask,
    ConsolidatedFinding,
    ConsolidatedRead,
    ReaderAssignment,
)


@dataclass(frozen=True)
class DecisionReport:
    """What one decision pass stored, and the discordant sides it leaves for adjudication."""

    campaign: str
    states: dict[str, int]
    findings: int
    agreement: dict[str, Any] = field(default_factory=dict)
    to_adjudicate: tuple[AdjudicationItem, ...] = ()


@dataclass(frozen=True)
class ConsolidationReport:
    """What one full pass (pull, decide, queue adjudication) pulled, rejected, decided and stored."""

    campaign: str
    revisions_new: int
    revisions_rejected: int
    violations_new: int
    states: dict[str, int]
    queued_for_adjudication: int
    findings: int
    agreement: dict[str, Any] = field(default_factory=dict)


def _latest(session: Session, ctx: CampaignContext) -> dict[tuple[int, int], AnnotationRevision]:
    """Newest revision per (assignment, task), leaving out tasks with a blinding violation in that project."""
    ids = [a.id for a in ctx.assignments.values()]
    tainted = {
        (a, ls)
        for a, ls in session.execute(
            select(BlindingViolation.assignment_id, BlindingViolation.ls_task_id).where(
                BlindingViolation.assignment_id.in_(ids)
            )
        )
    }
    tainted_tasks = {(a, ctx.ls_tasks[ls][1]) for a, ls in tainted if ls in ctx.ls_tasks}
    latest = {}
    for rev in session.scalars(
        select(AnnotationRevision).where(AnnotationRevision.assignment_id.in_(ids)).order_by(AnnotationRevision.id)
    ):
        key = (rev.assignment_id, rev.campaign_task_id)
        if key not in tainted_tasks:
            latest[key] = rev
    return latest


def _decide(ctx: CampaignContext, latest: dict[tuple[int, int], AnnotationRevision]) -> Decisions:
    """Set each side's state by the campaign's reading scheme, and collect the final reads."""
    decide, out = DECIDERS[ctx.campaign.scheme], Decisions()
    for task in ctx.tasks.values():
        by_role = {role: rev for role, a in ctx.assignments.items() if (rev := latest.get((a.id, task.id)))}
        decide(ctx, task, by_role, out)
    return out


def _finding_row(ctx: CampaignContext, task: CampaignTask, k: int, f: Finding, source: str) -> ConsolidatedFinding:
    cc, mlo = f.boxes.get("cc"), f.boxes.get("mlo")
    return ConsolidatedFinding(
        finding_uid=f"C{ctx.campaign.id}-T{task.id}-F{k + 1}",
        campaign_task_id=task.id,
        study_id=task.study_id,
        laterality=task.laterality,
        finding_type=f.finding_type,
        birads=f.birads,
        attributes=f.attributes,
        cc_instance_id=task.cc_instance_id if cc else None,
        mlo_instance_id=task.mlo_instance_id if mlo else None,
        cc_xmin=cc and cc[0],
        cc_ymin=cc and cc[1],
        cc_xmax=cc and cc[2],
        cc_ymax=cc and cc[3],
        mlo_xmin=mlo and mlo[0],
        mlo_ymin=mlo and mlo[1],
        mlo_xmax=mlo and mlo[2],
        mlo_ymax=mlo and mlo[3],
        source=source,
    )


def _store(session: Session, ctx: CampaignContext, decisions: Decisions) -> int:
    """Replace the campaign's consolidated reads and findings; returns the number of findings."""
    task_ids = list(ctx.tasks)
    session.execute(delete(ConsolidatedFinding).where(ConsolidatedFinding.campaign_task_id.in_(task_ids)))
    session.execute(delete(ConsolidatedRead).where(ConsolidatedRead.campaign_task_id.in_(task_ids)))
    rows: list[Any] = []
    for task_id, (read, source, revisions) in decisions.consolidated.items():
        task = ctx.tasks[task_id]
        rows.append(
            ConsolidatedRead(
                campaign_task_id=task_id,
                composition=read.composition,
                assessment=read.assessment,
                source=source,
                revision_ids=revisions,
            )
        )
        rows += [_finding_row(ctx, task, k, f, source) for k, f in enumerate(read.findings)]
    session.add_all(rows)
    session.flush()
    return sum(isinstance(r, ConsolidatedFinding) for r in rows)


def _mark_annotated(session: Session, ctx: CampaignContext) -> None:
    """Ledger: a study is annotated once every side of it in the campaign is consolidated."""
    sides: dict[int, list[bool]] = {}
    for task in ctx.tasks.values():
        sides.setdefault(task.study_id, []).append(task.state in FINAL_TASK_STATES)
    mark_annotated(session, {s for s, states in sides.items() if all(states)}, f"campaign {ctx.campaign.name}")


def mark_annotated(session: Session, study_ids: Collection[int], detail: str) -> None:
    """The studies' ANNOTATED ledger entry, once per study ever: it marks when an exam's read first became final
    (what the retraining sensor counts), whatever later consolidations replace."""
    known = set(
        session.scalars(
            select(LedgerEntry.study_id).where(
                LedgerEntry.stage == LedgerStage.ANNOTATED, LedgerEntry.study_id.in_(study_ids)
            )
        )
    )
    session.add_all(
        LedgerEntry(study_id=s, stage=LedgerStage.ANNOTATED, detail=detail) for s in sorted(set(study_ids) - known)
    )
    session.flush()


def decide_campaign(session_factory: sessionmaker[Session], name: str, user: str = "") -> DecisionReport:
    """Decide every side from its latest untainted reads and replace the stored findings, in one transaction."""
    with session_scope(session_factory) as session:
        ctx = load_context(session, campaign_by_name(session, name))
        scheme = SCHEMES.get(ctx.campaign.scheme)
        if scheme is None or ctx.campaign.scheme not in DECIDERS or not set(scheme.roles) <= set(ctx.assignments):
            # a scheme this version does not know, or a campaign short of a role: left as it is, never a crash
            # that would stop the consolidation of every other campaign
            return DecisionReport(name, dict(Counter(task.state for task in ctx.tasks.values())), 0)
        decisions = _decide(ctx, _latest(session, ctx))
        findings = _store(session, ctx, decisions)
        _mark_annotated(session, ctx)
        ctx.campaign.agreement = agreement(decisions.pairs)
        states = dict(Counter(task.state for task in ctx.tasks.values()))
        record_event(
            session,
            AuditRecord(
                event_id=AuditEventId.PATIENT_RECORD,
                action=AuditAction.UPDATE,
                event_type="annotation.consolidated",
                user_id=user,
                detail={"campaign": name, "states": states, "findings": findings},
            ),
        )
        items = tuple(
            AdjudicationItem(task.id, tuple(task.discordance or ()), results)
            for task, results in decisions.to_adjudicate
        )
        return DecisionReport(name, states, findings, dict(ctx.campaign.agreement), items)


def decide_all(session_factory: sessionmaker[Session], user: str = "") -> list[DecisionReport]:
    """Decide every campaign, oldest first."""
    return [decide_campaign(session_factory, name, user) for name in campaign_names(session_factory)]


def consolidate_campaign(
    session_factory: sessionmaker[Session], admin: LabelStudioClient, name: str, user: str = ""
) -> ConsolidationReport:
    """One full pass over a campaign through the two steps: pull (and check blinding), decide, queue adjudication."""
    pulled = pull_campaign(session_factory, admin, name, user)
    decided = decide_campaign(session_factory, name, user)
    queued = queue_for_adjudication(session_factory, admin, name, list(decided.to_adjudicate))
    return ConsolidationReport(
        name,
        pulled.revisions_new,
        pulled.revisions_rejected,
        pulled.violations_new,
        decided.states,
        queued,
        decided.findings,
        decided.agreement,
    )


def campaign_names(session_factory: sessionmaker[Session]) -> list[str]:
    """Every campaign, oldest first."""
    with session_scope(session_factory) as session:
        return list(session.scalars(select(AnnotationCampaign.name).order_by(AnnotationCampaign.id)))


def consolidate_all(
    session_factory: sessionmaker[Session], admin: LabelStudioClient, user: str = ""
) -> list[ConsolidationReport]:
    """Consolidate every campaign, oldest first."""
    return [consolidate_campaign(session_factory, admin, name, user) for name in campaign_names(session_factory)]


def annotation_fingerprint(session_factory: sessionmaker[Session], admin: LabelStudioClient) -> str:
    """A cheap digest of the annotation counts of every campaign project: it changes when reads come in."""
    with session_scope(session_factory) as session:
        projects = sorted(session.scalars(select(ReaderAssignment.ls_project_id)))
    counts = [(p, admin.project_summary(p)["total_annotations_number"]) for p in projects]
    return hashlib.sha256(json.dumps(counts).encode()).hexdigest()[:16] if projects else ""
