"""Patient linking: each study is attached to an EMR patient, or queued for review."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

import dagster as dg

from assets.metadata import report_metadata
from assets.resources import EmrDatabaseResource
from emr_core.db import session_scope
from emr_core.linking.linker import link_studies
from emr_core.status import platform_status


@dg.asset(group_name="ingest", deps=["dicom_instances"], kinds={"sql"})
def linked_studies(context: dg.AssetExecutionContext, emr_db: EmrDatabaseResource) -> dg.MaterializeResult:
    """Studies linked to EMR patients by identifier, accession or demographics, with evidence."""
    report = link_studies(emr_db.sessions(), only_pending=True)
    context.log.info(f"linking: {report}")
    return dg.MaterializeResult(metadata=report_metadata(report))


@dg.asset_check(asset=linked_studies, description="Every study is linked to a patient; none wait for review.")
def linked_studies_unlinked(emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    with session_scope(emr_db.sessions()) as session:
        status = platform_status(session)
    return dg.AssetCheckResult(
        passed=status.unlinked_studies == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unlinked_studies": status.unlinked_studies,
            "review_queue": status.review_queue,
            "provisional_patients": status.provisional_patients,
        },
    )
