"""Follow-up tasks: the BI-RADS rules evaluated nightly over every patient's newest assessed exam."""

# No `from __future__ import annotations`: Dagster resolves the config class from the live annotation.
import dagster as dg

from assets.metadata import report_metadata
from assets.resources import EmrDatabaseResource
from emr_core.clinical.followup import run_followup


class FollowupConfig(dg.Config):
    """Rules file to apply; empty means the followup_rules setting (SGM_FOLLOWUP_RULES), else the shipped defaults."""

    rules_path: str = ""


@dg.asset(group_name="clinical", deps=["linked_studies"], kinds={"sql"})
def followup_tasks(
    context: dg.AssetExecutionContext, config: FollowupConfig, emr_db: EmrDatabaseResource
) -> dg.MaterializeResult:
    """Recall, follow-up, biopsy, pathology and screening tasks created or rescheduled from the rules."""
    report = run_followup(emr_db.sessions(), config.rules_path or None, settings=emr_db.settings())
    context.log.info(f"follow-up rules: {report}")
    return dg.MaterializeResult(metadata=report_metadata(report))
