"""Annotation: rendered images, the pulled and blinding-checked reads, and the consolidated findings."""

# No `from __future__ import annotations` here: Dagster 1.13 compares the `context` annotation
# object itself and rejects the string that postponed evaluation would give it.
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from annotation_ui.adjudication import queue_for_adjudication
from annotation_ui.blinding import violation_count
from annotation_ui.consolidation import decide_all
from annotation_ui.images import render_pending
from annotation_ui.pull import pull_all
from annotation_ui.rejections import rejection_reasons
from assets.metadata import report_metadata
from assets.resources import DicomStorageResource, EmrDatabaseResource, LabelStudioResource
from emr_core.db import session_scope
from emr_core.enums import CampaignTaskState
from emr_core.models_annotation import AnnotationRevision, CampaignTask

LONG_SIDE = 1024


@dg.asset(group_name="annotation", deps=["dicom_instances"], kinds={"dicom", "png"}, pool="render")
def annotation_images(
    context: dg.AssetExecutionContext,
    emr_db: EmrDatabaseResource,
    dicom_storage: DicomStorageResource,
) -> dg.MaterializeResult:
    """8-bit PNG renders (long side 1024) of every mammogram, once per SOP Instance UID, for Label Studio."""
    settings = dicom_storage.settings()
    report = render_pending(emr_db.sessions(), settings, LONG_SIDE, settings.ingest_workers)
    context.log.info(f"rendering: {report.rendered} new, {report.cached} cached, {len(report.failed)} failed")
    return dg.MaterializeResult(
        metadata={
            "rendered": report.rendered,
            "cached": report.cached,
            "failed": len(report.failed),
            "studies_completed": report.studies_completed,
        }
    )


@dg.asset(group_name="annotation", deps=[annotation_images], kinds={"sql"})
def annotation_reads(
    context: dg.AssetExecutionContext,
    emr_db: EmrDatabaseResource,
    label_studio: LabelStudioResource,
) -> dg.MaterializeResult:
    """Every reader's annotation revisions pulled from Label Studio, validated, with blinding violations on record."""
    reports = pull_all(emr_db.sessions(), label_studio.client(), user="dagster")
    metadata: dict[str, Any] = {
        "campaigns": len(reports),
        "revisions_new": sum(r.revisions_new for r in reports),
        "blinding_violations_new": sum(r.violations_new for r in reports),
    }
    for r in reports:
        context.log.info(f"campaign {r.campaign}: {r}")
        metadata.update({f"{r.campaign}/{k}": v for k, v in report_metadata(r).items()})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=annotation_reads,
    blocking=True,
    description="Every read was made and last changed only by the reader its project belongs to.",
)
def annotation_reads_blinding(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        violations = violation_count(session)
    return dg.AssetCheckResult(
        passed=violations == 0, severity=dg.AssetCheckSeverity.ERROR, metadata={"blinding_violations": violations}
    )


@dg.asset(group_name="annotation", deps=[annotation_reads], kinds={"sql"})
def consolidated_findings(
    context: dg.AssetExecutionContext,
    emr_db: EmrDatabaseResource,
    label_studio: LabelStudioResource,
) -> dg.MaterializeResult:
    """Findings of every final read, as each campaign's reading scheme decides it, with boxes in DICOM pixels."""
    sessions = emr_db.sessions()
    reports = decide_all(sessions, user="dagster")
    # Decided and stored first (database only); discordant sides then go to Label Studio.
    queued = {}
    for r in reports:
        if r.to_adjudicate:
            queued[r.campaign] = queue_for_adjudication(
                sessions, label_studio.client(), r.campaign, list(r.to_adjudicate)
            )
    metadata: dict[str, Any] = {"campaigns": len(reports), "findings": sum(r.findings for r in reports)}
    for r in reports:
        context.log.info(f"campaign {r.campaign}: {r.states}, {r.findings} findings")
        metadata.update({f"{r.campaign}/{k}": v for k, v in report_metadata(r).items()})
        metadata[f"{r.campaign}/queued_for_adjudication"] = queued.get(r.campaign, 0)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=consolidated_findings, description="No reader's latest read was rejected by the schema.")
def consolidated_findings_valid(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        invalid = session.scalar(select(func.count()).where(CampaignTask.state == CampaignTaskState.INVALID)) or 0
        rejected = session.scalar(select(func.count()).where(AnnotationRevision.valid.is_(False))) or 0
        reasons = rejection_reasons(session)
    return dg.AssetCheckResult(
        passed=invalid == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sides_with_invalid_read": invalid,
            "rejected_revisions": rejected,
            "reasons": dg.MetadataValue.json(reasons),  # the newest 20, each with its problems
        },
    )
