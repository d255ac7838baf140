"""Jobs: named selections of assets that sensors and schedules launch."""

from __future__ import annotations

import dagster as dg

ingest_dicom_job = dg.define_asset_job(
    name="ingest_dicom_job",
    selection=dg.AssetSelection.assets("dicom_instances", "linked_studies"),
    description="Index the incoming folder and link the new studies to patients.",
)

link_studies_job = dg.define_asset_job(
    name="link_studies_job",
    selection=dg.AssetSelection.assets("linked_studies"),
    description="Link studies still pending (e.g. after a registry import or a manual decision).",
)
