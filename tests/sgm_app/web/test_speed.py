"""Speed through the whole web stack (session cookie, query, audit, HTML): search as you type and a 20-study chart.

At CI size (3,000 patients); `python bench/web_pages.py` measures the issue's 100,000 (p95 140 ms measured here).
"""

from __future__ import annotations

import sys
from pathlib import Path

from emr_core.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from web_pages import CHART_TARGET_MS, SEARCH_TARGET_MS, measure


def test_search_answers_as_you_type_and_a_20_study_chart_renders_fast(tmp_path: Path) -> None:
    search_p95, chart_max = measure(Settings(home=tmp_path), patients=3000, count=120)
    assert search_p95 < SEARCH_TARGET_MS, f"search p95 {search_p95:.0f} ms"
    assert chart_max < CHART_TARGET_MS, f"chart {chart_max:.0f} ms"
