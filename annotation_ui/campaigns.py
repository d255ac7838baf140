"""Campaigns: a set of exams read under a reading scheme, each reader in a project of their own, in their own order.

The roles a scheme needs and their projects' settings are in scheme_provision; blind double reading is the default."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.client import LabelStudioClient
from annotation_ui.images import document_path, mammograms_of, render_instances
from annotation_ui.labeling_config import labeling_config
from annotation_ui.readers import reader_by_email
from annotation_ui.schema import build_schema
from annotation_ui.scheme_provision import (
    HIDDEN_PROJECT_OPTIONS,
    READS_FROM_START,
    RolesError,
    project_options,
    project_title,
    roles_for,
)
from annotation_ui.schemes import DEFAULT_SCHEME, ReadingScheme, SchemeError, scheme_named
from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.enums import AuditAction, AuditEventId
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, LabelStudioTask, ReaderAssignment
from emr_core.settings import Settings
from emr_core.vocabulary.dicom import BREAST_SIDES, SCREENING_VIEWS, ViewPosition

log = logging.getLogger(__name__)
BLIND_ROLES = ("reader_1", "reader_2")
ADJUDICATOR = "adjudicator"
# What the blind projects must hide: other reads, predictions, history.
BLIND_PROJECT_OPTIONS: dict[str, Any] = HIDDEN_PROJECT_OPTIONS


class CampaignError(ValueError):
    """A campaign cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class ProvisionReport:
    """What a campaign was created with."""

    campaign_id: int
    exams: int
    tasks: int
    images_rendered: int
    images_cached: int
    projects: dict[str, int]
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SidePair:
    study_id: int
    laterality: str
    cc: Instance
    mlo: Instance


def side_pairs(instances: list[Instance], series_study: dict[int, int]) -> tuple[list[SidePair], list[str]]:
    """One CC + MLO pair per study and side (the latest of repeated views); sides lacking a view are skipped."""
    views: dict[tuple[int, str], dict[str, Instance]] = {}
    for inst in instances:  # ordered by id: a repeated view replaces the earlier one
        if inst.laterality in BREAST_SIDES and inst.view in SCREENING_VIEWS:
            views.setdefault((series_study[inst.series_id], inst.laterality), {})[inst.view] = inst
    pairs, skipped = [], []
    for (study_id, side), found in sorted(views.items()):
        missing = [v.value for v in SCREENING_VIEWS if v not in found]
        if missing:
            skipped.append(f"study {study_id} side {side}: no {missing[0]} image")
        else:
            pairs.append(SidePair(study_id, side, found[ViewPosition.CC], found[ViewPosition.MLO]))
    return pairs, skipped


def _task_data(settings: Settings, pair: SidePair, task_id: int, long_side: int) -> dict[str, Any]:
    """What a reader sees: the two images and the side, nothing about the patient or other reads."""
    url = "/data/local-files/?d="
    return {
        "cc": url + document_path(settings, pair.cc.sop_instance_uid, long_side),
        "mlo": url + document_path(settings, pair.mlo.sop_instance_uid, long_side),
        "side": {"L": "left breast", "R": "right breast"}[pair.laterality],
        "task_ref": task_id,
    }


def reading_order(task_ids: list[int], seed: int, role: str) -> list[int]:
    """A reproducible random order, different per reader."""
    order = sorted(task_ids)
    random.Random(f"{seed}:{role}").shuffle(order)
    return order


def _create_projects(
    admin: LabelStudioClient, settings: Settings, plan: tuple[str, ReadingScheme, str, int], projects: dict[str, int]
) -> dict[str, int]:
    """One project per role of the scheme (name, scheme, labeling config, long side), each allowed to serve the
    rendered images.

    `projects` is filled as they are created, so that a failure half-way knows what to remove."""
    name, scheme, xml, long_side = plan
    for role in scheme.roles:
        projects[role] = admin.create_project(project_title(name, scheme, role), xml, **project_options(scheme, role))
        admin.add_local_storage(projects[role], str(settings.rendered_dir / str(long_side)))
    return projects


def _check_new(session: Session, name: str, emails: dict[str, str]) -> dict[str, int]:
    """Reader ids per role; the name must be new and the readers distinct."""
    if session.scalar(select(func.count()).where(AnnotationCampaign.name == name)):
        raise CampaignError(f"a campaign named {name!r} already exists")
    if len(set(emails.values())) != len(emails):
        raise CampaignError("the two blind readers and the adjudicator must be three different people")
    return {role: reader_by_email(session, email).id for role, email in emails.items()}


def _roles(scheme_name: str, readers: Sequence[str], senior: str | None, adjudicator: str | None) -> dict[str, str]:
    try:
        return roles_for(scheme_named(scheme_name), readers, senior, adjudicator)
    except (RolesError, SchemeError) as exc:
        raise CampaignError(str(exc)) from None


def _load_pairs(session: Session, study_ids: list[int]) -> tuple[list[SidePair], list[str]]:
    instances = mammograms_of(session, study_ids)
    series_study = dict(
        session.execute(select(Series.id, Series.study_id).where(Series.id.in_({i.series_id for i in instances}))).all()
    )
    return side_pairs(instances, series_study)


def _import_blind(
    session: Session,
    admin: LabelStudioClient,
    settings: Settings,
    campaign: AnnotationCampaign,
    assignment: ReaderAssignment,
    tasks: dict[int, tuple[CampaignTask, SidePair]],
) -> None:
    """Import the campaign's tasks into one reader's project in that reader's random order."""
    order = reading_order(list(tasks), campaign.seed, assignment.role)
    data = [_task_data(settings, tasks[t][1], t, campaign.long_side) for t in order]
    ls_ids = admin.import_tasks(assignment.ls_project_id, data)
    if len(ls_ids) != len(order):
        raise CampaignError(
            f"Label Studio created {len(ls_ids)} of {len(order)} tasks in project {assignment.ls_project_id}"
        )
    session.add_all(
        LabelStudioTask(assignment_id=assignment.id, campaign_task_id=t, ls_task_id=ls, position=i)
        for i, (t, ls) in enumerate(zip(order, ls_ids, strict=False))
    )


def provision_campaign(
    session_factory: sessionmaker[Session],
    settings: Settings,
    admin: LabelStudioClient,
    name: str,
    study_ids: list[int],
    readers: Sequence[str],
    adjudicator: str | None = None,
    *,
    senior: str | None = None,
    scheme: str = DEFAULT_SCHEME,
    seed: int = 0,
    long_side: int = 1024,
    schema_config: dict[str, Any] | None = None,
    workers: int = 2,
) -> ProvisionReport:
    """Render the exams, create one project per role of the scheme and import one task per breast side for each
    first reader (blind double reading: two blind readers and an adjudicator)."""
    xml = labeling_config(build_schema(schema_config))
    emails = _roles(scheme, readers, senior, adjudicator)
    with session_scope(session_factory) as session:
        reader_ids = _check_new(session, name, emails)
        pairs, skipped = _load_pairs(session, study_ids)
        if not pairs:
            raise CampaignError(f"none of the {len(study_ids)} studies has a CC and an MLO image of one side")
        rendered = render_instances(settings, [i for p in pairs for i in (p.cc, p.mlo)], long_side, workers)
        skipped += [f"image {uid}: {err}" for uid, err in rendered.failed.items()]
        pairs = [p for p in pairs if not {p.cc.sop_instance_uid, p.mlo.sop_instance_uid} & rendered.failed.keys()]
        campaign = AnnotationCampaign(
            name=name, seed=seed, long_side=long_side, schema_config=schema_config or {}, scheme=scheme
        )
        session.add(campaign)
        session.flush()
        tasks = _add_tasks(session, campaign, pairs)
        projects: dict[str, int] = {}
        try:
            _create_projects(admin, settings, (name, scheme_named(scheme), xml, long_side), projects)
            _assign_readers(session, admin, settings, campaign, projects, reader_ids, tasks)
        except Exception:
            _remove_projects(admin, projects)  # the database rolls back; Label Studio must too
            raise
        _audit_provisioning(session, campaign, pairs, projects, emails)
        return ProvisionReport(
            campaign.id,
            len({p.study_id for p in pairs}),
            len(pairs),
            rendered.rendered,
            rendered.cached,
            projects,
            skipped,
        )


def _remove_projects(admin: LabelStudioClient, projects: dict[str, int]) -> None:
    """Delete the projects of a provisioning that failed; a deletion that fails too is logged, not raised."""
    for project_id in projects.values():
        try:
            admin.delete_project(project_id)
        except Exception as exc:  # the original failure is the one to report
            log.warning("could not remove Label Studio project %s of a failed provisioning: %s", project_id, exc)


def _add_tasks(session: Session, campaign: AnnotationCampaign, pairs: list[Any]) -> dict[int, tuple[CampaignTask, Any]]:
    """One campaign task per breast side with its CC and MLO image."""
    tasks = {}
    for pair in pairs:
        task = CampaignTask(
            campaign_id=campaign.id,
            study_id=pair.study_id,
            laterality=pair.laterality,
            cc_instance_id=pair.cc.id,
            mlo_instance_id=pair.mlo.id,
        )
        session.add(task)
        session.flush()
        tasks[task.id] = (task, pair)
    return tasks


def _assign_readers(
    session: Session,
    admin: LabelStudioClient,
    settings: Settings,
    campaign: AnnotationCampaign,
    projects: dict[str, int],
    reader_ids: dict[str, int],
    tasks: dict[int, tuple[CampaignTask, Any]],
) -> None:
    """Give each role its project; the first readers get the tasks in their own order."""
    for role, project_id in projects.items():
        assignment = ReaderAssignment(
            campaign_id=campaign.id, reader_id=reader_ids[role], role=role, ls_project_id=project_id
        )
        session.add(assignment)
        session.flush()
        if role in READS_FROM_START:
            _import_blind(session, admin, settings, campaign, assignment, tasks)


def _audit_provisioning(
    session: Session, campaign: AnnotationCampaign, pairs: list[Any], projects: dict[str, int], emails: dict[str, str]
) -> None:
    record_event(
        session,
        AuditRecord(
            event_id=AuditEventId.EXPORT,
            action=AuditAction.READ,
            event_type="annotation.campaign_provisioned",
            instance_count=2 * len(pairs),
            detail={
                "campaign": campaign.name,
                "studies": len({p.study_id for p in pairs}),
                "projects": projects,
                "readers": emails,
                "scheme": campaign.scheme,
            },
        ),
    )


def campaign_by_name(session: Session, name: str) -> AnnotationCampaign:
    campaign = session.scalars(select(AnnotationCampaign).where(AnnotationCampaign.name == name)).first()
    if campaign is None:
        raise CampaignError(f"no campaign named {name!r}")
    return campaign


def assignments_of(session: Session, campaign_id: int) -> dict[str, ReaderAssignment]:
    rows = session.scalars(select(ReaderAssignment).where(ReaderAssignment.campaign_id == campaign_id))
    return {a.role: a for a in rows}


def campaign_status(session: Session, campaign_id: int) -> dict[str, int]:
    """Tasks per state (emr_core.enums.CampaignTaskState: pending, invalid, then the scheme's own)."""
    rows = session.execute(
        select(CampaignTask.state, func.count())
        .where(CampaignTask.campaign_id == campaign_id)
        .group_by(CampaignTask.state)
    ).all()
    return {state: int(n) for state, n in rows}


def campaign_study_ids(
    session: Session, study_uids: Sequence[str] = (), limit: int | None = None, not_in: Sequence[str] = ()
) -> list[int]:
    """The studies named, else every study with mammograms (oldest first), none of campaigns `not_in`, up to `limit`."""
    with_mammograms = (
        select(Series.study_id).join(Instance, Instance.series_id == Series.id).where(Instance.is_mammogram.is_(True))
    )
    query = select(Study.id).where(Study.id.in_(with_mammograms))
    if study_uids:
        query = query.where(Study.study_uid.in_(study_uids))
    if not_in:
        taken = select(CampaignTask.study_id).join(
            AnnotationCampaign, AnnotationCampaign.id == CampaignTask.campaign_id
        )
        query = query.where(Study.id.not_in(taken.where(AnnotationCampaign.name.in_(not_in))))
    return list(session.scalars(query.order_by(Study.id).limit(limit)))
