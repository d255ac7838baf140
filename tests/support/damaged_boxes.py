"""Box lists a database writer could leave in a stored predictions row, none of them a box."""

from __future__ import annotations

from typing import Any

MALFORMED_BOXES: list[Any] = [
    1,
    "x",
    None,
    {"x_min": "4", "y_min": 1, "x_max": 9, "y_max": 9, "score": 0.5},  # a number written as text
    {"x_min": 9, "y_min": 1, "x_max": 4, "y_max": 9, "score": 0.5},  # inverted
    {"x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9, "score": True},
    {"x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9},  # no score
]
