"""Retraining: a run of the training pipeline once enough exams with newly final reads have arrived."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import dagster as dg

from assets.resources import EmrDatabaseResource
from emr_core.db import session_scope
from orchestration.jobs import retrain_detector_job
from sgm_models.retraining import final_reads_since


@dg.sensor(
    name="adjudicated_exams_sensor",
    job=retrain_detector_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Request a retraining after SGM_RETRAIN_AFTER_EXAMS exams with newly final reads.",
)
def adjudicated_exams_sensor(
    context: dg.SensorEvaluationContext, emr_db: EmrDatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    needed = emr_db.settings().retrain_after_exams
    # The cursor is the newest ANNOTATED ledger entry already counted towards a requested retraining.
    after = int(context.cursor or 0)
    with session_scope(emr_db.sessions()) as session:
        new = final_reads_since(session, after)
    if new.exams < needed:
        return dg.SkipReason(f"{new.exams} of {needed} new final exam reads since the last retraining request")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"retrain-after-read-{new.last_entry_id}", tags={"sgm/new_exams": str(new.exams)})
        ],
        cursor=str(new.last_entry_id),
    )
