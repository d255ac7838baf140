"""Training dataset versions: de-identified, checked, stored and logged in MLflow, gated by the quality checks."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import dagster as dg

from assets.annotation import consolidated_findings
from assets.quality import failed_gates
from assets.resources import EmrDatabaseResource, MlflowResource
from emr_core.db import session_scope
from emr_core.deid import key_path, load_or_create_key
from sgm_datasets.audit import record_dataset_event
from sgm_datasets.errors import DatasetError
from sgm_datasets.export import ExportRequest, export_version
from sgm_datasets.mlflow_log import log_version
from sgm_datasets.site import site_store

DATASET_NAME = "screening"


class TrainingDatasetConfig(dg.Config):
    name: str = DATASET_NAME
    png_long_side: int = 1024


# Linked studies too: ages come from the linked patient, and the linking gate must pass before an export.
@dg.asset(
    group_name="datasets",
    deps=[consolidated_findings, "linked_studies"],
    kinds={"parquet", "dicom", "mlflow"},
    pool="render",
)
def training_dataset(
    context: dg.AssetExecutionContext,
    config: TrainingDatasetConfig,
    emr_db: EmrDatabaseResource,
    mlflow_tracking: MlflowResource,
) -> dg.MaterializeResult:
    """An immutable, de-identified dataset version of the agreed and adjudicated exams, logged in MLflow."""
    # In the same run the blocking checks upstream already stop this step; launched on its own, it
    # still refuses while any gate's latest evaluation failed or never ran.
    failures = failed_gates(context.instance)
    settings = emr_db.settings()
    request = ExportRequest(
        name=config.name,
        secret=load_or_create_key(key_path(settings)),
        data_root=settings.root,
        user="dagster",
        workers=settings.ingest_workers,
        png_long_side=config.png_long_side,
        blocking_failures=failures,
    )
    store = site_store(settings)
    try:
        with session_scope(emr_db.sessions()) as session:
            result = export_version(session, store, request)
            uri = store.uri(config.name, result.version)
            record_dataset_event(session, "export", "dagster", config.name, result.version, len(result.manifest), uri)
    except DatasetError as exc:
        raise dg.Failure(description=str(exc), metadata={"failed_gates": ", ".join(failures) or "none"}) from None
    run_id = log_version(
        mlflow_tracking.uri(), result.manifest, config.name, result.version, uri, result.header["counts"]
    )
    counts = result.header["counts"]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(result.version),
        metadata={
            "version": result.version,
            "new_version": result.created,
            "uri": dg.MetadataValue.url(uri) if uri.startswith("s3://") else dg.MetadataValue.path(uri),
            "images": len(result.manifest),
            **{f"{split}_images": c["images"] for split, c in counts.items()},
            **{f"{split}_patients": c["patients"] for split, c in counts.items()},
            "excluded": len(result.header["excluded"]),
            "exclusions": dg.MetadataValue.json(result.header["excluded"][:50]),
            "quality_report": dg.MetadataValue.path(uri.removeprefix("file://") + "/quality.html"),
            "mlflow_run": run_id,
        },
    )
