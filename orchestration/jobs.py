"""Jobs: named selections of assets that sensors and schedules launch."""

from __future__ import annotations

import dagster as dg

# The training-data quality gates (assets/quality.py) block what follows them in a run; they run in
# their own job so that a bad image never holds up linking, which clinical work depends on.
QUALITY_GATES = (
    dg.AssetCheckKey(dg.AssetKey("dicom_instances"), "dicom_instances_quality"),
    dg.AssetCheckKey(dg.AssetKey("linked_studies"), "linked_studies_quality"),
    dg.AssetCheckKey(dg.AssetKey("consolidated_findings"), "consolidated_findings_quality"),
)

ingest_dicom_job = dg.define_asset_job(
    name="ingest_dicom_job",
    selection=dg.AssetSelection.assets("dicom_instances", "linked_studies") - dg.AssetSelection.checks(*QUALITY_GATES),
    description="Index the incoming folder and link the new studies to patients.",
)

link_studies_job = dg.define_asset_job(
    name="link_studies_job",
    selection=dg.AssetSelection.assets("linked_studies"),
    description="Link studies still pending (e.g. after a registry import or a manual decision).",
)

evaluate_followup_job = dg.define_asset_job(
    name="evaluate_followup_job",
    selection=dg.AssetSelection.assets("followup_tasks"),
    description="Evaluate the follow-up rules and create or reschedule clinical tasks.",
)

render_annotation_images_job = dg.define_asset_job(
    name="render_annotation_images_job",
    selection=dg.AssetSelection.assets("annotation_images"),
    description="Render new mammograms to PNG for annotation (cached per SOP Instance UID).",
)

consolidate_annotations_job = dg.define_asset_job(
    name="consolidate_annotations_job",
    # The blocking blinding check on annotation_reads stops the run before any decision is made.
    selection=dg.AssetSelection.assets("annotation_reads", "consolidated_findings"),
    description="Pull Label Studio reads and verify blinding; then decide, store findings and queue adjudication.",
)

pull_mammography_job = dg.define_asset_job(
    name="pull_mammography_job",
    selection=dg.AssetSelection.assets("pacs_mammography_studies"),
    description="Retrieve a day's mammography studies from the PACS, skipping studies already held.",
)

check_quality_gates_job = dg.define_asset_job(
    name="check_quality_gates_job",
    selection=dg.AssetSelection.checks(*QUALITY_GATES),
    description="Evaluate the training-data quality gates over what the latest ingest and consolidation produced.",
)

export_training_dataset_job = dg.define_asset_job(
    name="export_training_dataset_job",
    selection=dg.AssetSelection.assets("training_dataset"),
    description="Write a training dataset version; refused while a quality gate's latest evaluation failed.",
)

retrain_detector_job = dg.define_asset_job(
    name="retrain_detector_job",
    selection=dg.AssetSelection.assets("training_dataset", "baseline_detector", "champion_detector"),
    description="A new dataset version, the baseline trained on it, then the champion/challenger decision.",
)
