"""Quality gates: the GX suites of `quality/` as blocking asset checks, each with an HTML report."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.ingest import RECEIVED_SINCE
from assets.metadata import suite_metadata
from assets.resources import EmrDatabaseResource
from emr_core.db import session_scope
from quality.frames import Scope
from quality.gates import birads_vocabulary, check_findings, check_images, check_linking
from quality.report import write_report
from quality.results import SuiteResult


@dg.asset_check(
    asset="dicom_instances",
    blocking=True,
    description="Instances received by the latest ingest are For Presentation mammograms of complete, "
    "consistently labelled four-view exams, with pixel spacing, unique, without burned-in annotation.",
)
def dicom_instances_quality(context: dg.AssetCheckExecutionContext, emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    scope = _ingest_scope(context)
    settings = emr_db.settings()
    with session_scope(emr_db.sessions()) as session:
        result = check_images(session, settings.root, scope)
    return _check_result(context, emr_db, result)


@dg.asset_check(
    asset="linked_studies",
    blocking=True,
    description="No study waits unlinked or in the review queue longer than SGM_LINK_REVIEW_MAX_DAYS.",
)
def linked_studies_quality(context: dg.AssetCheckExecutionContext, emr_db: EmrDatabaseResource) -> dg.AssetCheckResult:
    max_days = emr_db.settings().link_review_max_days
    with session_scope(emr_db.sessions()) as session:
        result = check_linking(session, max_days)
    return _check_result(context, emr_db, result)


@dg.asset_check(
    asset="consolidated_findings",
    blocking=True,
    description="Consolidated reads use only the BI-RADS vocabulary; boxes lie inside their image and a "
    "finding's CC and MLO boxes are on images of its breast.",
)
def consolidated_findings_quality(
    context: dg.AssetCheckExecutionContext, emr_db: EmrDatabaseResource
) -> dg.AssetCheckResult:
    # Consolidation re-stores every decided side on each run, so the current rows are what it produced.
    with session_scope(emr_db.sessions()) as session:
        result = check_findings(session, birads_vocabulary())
    return _check_result(context, emr_db, result)


def _ingest_scope(context: dg.AssetCheckExecutionContext) -> Scope:
    """The instances received by the latest dicom_instances materialization (all, if it never ran)."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey("dicom_instances"))
    if event is None or event.asset_materialization is None:
        return Scope()
    until = datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None)
    since_meta = event.asset_materialization.metadata.get(RECEIVED_SINCE)
    if since_meta is not None:
        return Scope(since=datetime.fromisoformat(str(since_meta.value)), until=until)
    run = context.instance.get_run_record_by_id(event.run_id)
    started = run.start_time if run is not None else None
    return Scope(since=datetime.fromtimestamp(started, UTC).replace(tzinfo=None) if started else None, until=until)


def _check_result(
    context: dg.AssetCheckExecutionContext, emr_db: EmrDatabaseResource, result: SuiteResult
) -> dg.AssetCheckResult:
    """Failing counts and examples as metadata, and the HTML report under <home>/quality/<check>/<run>.html."""
    check = next(iter(context.check_specs)).name
    path = _report_path(emr_db.settings().root, check, context.op_execution_context.run_id)
    write_report(path, f"{check} — run {context.op_execution_context.run_id}", [result])
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR if result.blocking else dg.AssetCheckSeverity.WARN,
        metadata={**suite_metadata(result), "report": dg.MetadataValue.path(str(path))},
    )


def _report_path(root: Path, check: str, run_id: str) -> Path:
    return root / "quality" / check / f"{run_id}.html"


QUALITY_GATES = (dicom_instances_quality, linked_studies_quality, consolidated_findings_quality)
IN_FLIGHT_LOOKBACK = 20  # check executions looked at past the ones still running, for the latest verdict


def _latest_verdict(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> dg.AssetCheckEvaluation | None:
    """The latest completed evaluation of a check, None if it never completed."""
    # A run still in progress (the annotation sensor's, say) has only planned its check: no verdict yet.
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=IN_FLIGHT_LOOKBACK):
        if isinstance(record.evaluation, dg.AssetCheckEvaluation):
            return record.evaluation
    return None


def failed_gates(instance: dg.DagsterInstance) -> list[str]:
    """Quality gates whose latest evaluation failed or never ran.

    A blocking check stops downstream assets of its own run only; the training export calls
    this so that a gate failed in an earlier run also stops an export launched on its own.
    """
    failed = []
    for check in QUALITY_GATES:
        for key in check.check_keys:
            evaluation = _latest_verdict(instance, key)
            if evaluation is None or not evaluation.passed:
                failed.append(key.name)
    return failed
