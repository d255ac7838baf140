"""PACS retrieval: the day's mammography studies pulled from the hospital PACS."""

# No `from __future__ import annotations`: Dagster resolves the PullConfig annotation at definition time.
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.resources import EmrDatabaseResource, PacsResource
from emr_core.dimse.pacs import StudyQuery


class PullConfig(dg.Config):
    """Which day to pull (YYYY-MM-DD); empty means yesterday (UTC), the day that just ended."""

    day: str = ""


def pull_day(config: PullConfig) -> date:
    """The study date a run pulls."""
    if config.day:
        return date.fromisoformat(config.day)
    return datetime.now(UTC).date() - timedelta(days=1)


# pool "pacs": the hospital PACS answers few associations at once (`dagster instance concurrency set pacs 2`).
@dg.asset(group_name="ingest", kinds={"dicom"}, pool="pacs")
def pacs_mammography_studies(
    context: dg.AssetExecutionContext, config: PullConfig, emr_db: EmrDatabaseResource, pacs: PacsResource
) -> dg.MaterializeResult:
    """The day's mammography (MG) studies retrieved from the PACS; studies already held are skipped."""
    day = pull_day(config)
    client = pacs.client(emr_db.sessions())
    studies = client.find_studies(StudyQuery(date_from=day, date_to=day, modality="MG"))
    report = client.pull(studies, pacs.retrieve_method)
    context.log.info(f"PACS {client.peer}, {day}: {len(studies)} MG studies found; {report.summary()}")
    for uid, problem in report.failed.items():
        context.log.error(f"study {uid} not retrieved: {problem}")
    if report.failed:
        # The studies pulled so far are kept; a re-run skips them and retries the rest.
        raise dg.Failure(f"{len(report.failed)} of {len(studies)} studies not retrieved", allow_retries=True)
    return dg.MaterializeResult(
        metadata={
            "day": day.isoformat(),
            "found": len(studies),
            "pulled": len(report.pulled),
            "already_held": len(report.skipped),
            "instances": report.instances,
            "method": pacs.method,
        }
    )
