"""Label Studio 1.23 returns a task's predictions whatever the project's "show predictions" setting says: the
gateway removes them from what a reader receives unless the reader's scheme shows predictions in that project."""

from __future__ import annotations

from typing import Any

# Task fields that carry or summarise model predictions (task API, Data Manager lists, the labeling stream)
PREDICTION_FIELDS = frozenset(
    {"predictions", "predictions_results", "predictions_score", "predictions_model_versions", "total_predictions"}
)


def _task(task: Any, allowed: frozenset[int]) -> Any:
    if not isinstance(task, dict) or task.get("project") in allowed:
        return task  # a task of a project whose reader may see predictions (an unknown project is stripped)
    return {k: v for k, v in task.items() if k not in PREDICTION_FIELDS}


def strip_predictions(payload: Any, allowed: frozenset[int]) -> Any:
    """A task, a list of tasks or a Data Manager page without prediction fields outside the `allowed` projects."""
    if isinstance(payload, list):
        return [_task(t, allowed) for t in payload]
    if isinstance(payload, dict) and isinstance(payload.get("tasks"), list):
        return {**payload, "tasks": [_task(t, allowed) for t in payload["tasks"]]}
    return _task(payload, allowed)
