"""Turn a domain report (a dataclass) into Dagster metadata shown in the UI."""

from __future__ import annotations

import dataclasses
from typing import Any


def report_metadata(report: Any) -> dict[str, Any]:
    """Numbers and strings as they are; collections by their size."""
    metadata: dict[str, Any] = {}
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if isinstance(value, (bool, int, float, str)):
            metadata[field.name] = value
        elif isinstance(value, dict):
            metadata.update({f"{field.name}_{k}": v for k, v in value.items() if isinstance(v, (int, float, str))})
        elif isinstance(value, (list, tuple, set, frozenset)):
            metadata[f"{field.name}_count"] = len(value)
    return metadata
