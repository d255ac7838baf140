"""The blocking quality gates evaluated now, for an export launched outside Dagster."""

from __future__ import annotations

from sqlalchemy.orm import Session

from emr_core.settings import Settings
from quality.gates import birads_vocabulary, check_findings, check_images, check_linking


def current_gate_failures(session: Session, settings: Settings) -> list[str]:
    """Names of the blocking gates (the Dagster asset checks' names) that fail on the EMR as it is."""
    results = {
        "dicom_instances_quality": check_images(session, settings.root),
        "linked_studies_quality": check_linking(session, settings.link_review_max_days),
        "consolidated_findings_quality": check_findings(session, birads_vocabulary()),
    }
    return [name for name, result in results.items() if result.blocks_export]
