"""DICOM ingest: files in the incoming folder become indexed instances in managed storage."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

import dagster as dg

from assets.metadata import report_metadata
from assets.resources import DicomStorageResource, EmrDatabaseResource
from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.dicom.ingest_audit import IngestAudit
from emr_core.models import utcnow
from emr_core.status import orientation_gaps, platform_status

RECEIVED_SINCE = "received_since"


@dg.asset(group_name="ingest", kinds={"dicom", "sql"})
def dicom_instances(
    context: dg.AssetExecutionContext,
    emr_db: EmrDatabaseResource,
    dicom_storage: DicomStorageResource,
) -> dg.MaterializeResult:
    """DICOM instances indexed from the incoming folder into managed storage (header only)."""
    settings = dicom_storage.settings()
    settings.incoming_dir.mkdir(parents=True, exist_ok=True)
    started = utcnow()
    audit = IngestAudit.of(f"dagster:{context.run.run_id}", [settings.incoming_dir], channel="sensor")
    report = ingest_paths(emr_db.sessions(), settings, [settings.incoming_dir], move=True, audit=audit)
    context.log.info(f"ingest of {settings.incoming_dir}: {report.summary()}")
    # The quality checks judge the instances received from this time on (see assets/quality.py).
    return dg.MaterializeResult(metadata={**report_metadata(report), RECEIVED_SINCE: started.isoformat()})


@dg.asset_check(asset=dicom_instances, description="Every mammogram has a laterality and a view.")
def dicom_instances_orientation(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        gaps = orientation_gaps(session)
    return dg.AssetCheckResult(
        passed=gaps.missing_laterality == 0 and gaps.missing_view == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing_laterality": gaps.missing_laterality,
            "missing_view": gaps.missing_view,
            "examples": ", ".join(gaps.examples) or "none",
        },
    )


@dg.asset_check(asset=dicom_instances, description="No SOP Instance UID arrived twice with other content.")
def dicom_instances_conflicts(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        conflicts = platform_status(session).conflicts
    return dg.AssetCheckResult(
        passed=conflicts == 0, severity=dg.AssetCheckSeverity.WARN, metadata={"conflicts": conflicts}
    )


@dg.asset_check(asset=dicom_instances, description="No file was quarantined as unreadable or incomplete.")
def dicom_instances_quarantine(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        by_reason = platform_status(session).quarantined_by_reason
    return dg.AssetCheckResult(
        passed=not by_reason,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": sum(by_reason.values()), **{f"reason_{k}": v for k, v in by_reason.items()}},
    )
