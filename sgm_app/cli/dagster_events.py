"""Work done outside Dagster (by the command line) reported to Dagster as asset materializations."""

from __future__ import annotations

import os
from typing import Any

ANNOTATION_IMAGES = "annotation_images"


def record_renders(metadata: dict[str, Any], instance: Any = None) -> bool:
    """Record renders made by `sgm campaign create` as a materialization of annotation_images.

    Uses the instance of DAGSTER_HOME when none is given; returns False when there is none to report to."""
    import dagster as dg

    if instance is None:
        if not os.environ.get("DAGSTER_HOME"):
            return False
        instance = dg.DagsterInstance.get()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=ANNOTATION_IMAGES, metadata=metadata, description="sgm campaign create")
    )
    return True
