"""The HTML report: self-contained, escaped, one table per suite with failing examples."""

from __future__ import annotations

from pathlib import Path

from quality.report import render_report, write_report
from quality.results import RuleResult, SuiteResult


def _results() -> list[SuiteResult]:
    bad = RuleResult(
        "laterality is L or R",
        "ExpectColumnValuesToBeInSet",
        False,
        3,
        ({"sop_instance_uid": "1.2", "laterality": "<b>X</b>"},),
    )
    ok = RuleResult("view is known", "ExpectColumnValuesToNotBeNull", True, 0)
    return [
        SuiteResult("images", False, True, 10, (bad, ok)),
        SuiteResult("dataset", True, True, 4, (ok,), {"class_balance": {"birads": {"train": {"1": 3, "4B": 1}}}}),
    ]


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    path = write_report(tmp_path / "v1" / "quality.html", "dataset v1 <test>", _results())
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Export blocked by: images" in page
    assert "<b>X</b>" not in page and "&lt;b&gt;X&lt;/b&gt;" in page and "dataset v1 &lt;test&gt;" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    assert 'id="images"' in page and 'id="dataset"' in page
    assert "laterality is L or R: examples (1 of 3)" in page
    assert "<th>birads / split</th><th>1</th><th>4B</th>" in page


def test_report_without_failures_says_so() -> None:
    page = render_report("clean", [_results()[1]])
    assert "No blocking check failed." in page
