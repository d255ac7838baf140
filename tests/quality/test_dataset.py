"""The dataset suite on manifest frames: no patient in two splits, zero PHI, class balance reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quality.results import SuiteResult
from quality.runner import validate
from quality.spec import SuiteError
from quality.suites.dataset import class_balance, dataset_suite, normalise, validate_dataset

PHI = ["Nguyễn Thị Lan", "40723082", "F"]  # "F" is too short to scan for and is ignored


def _manifest() -> pd.DataFrame:
    rows = []
    for p, split in enumerate(["train"] * 4 + ["val", "test"]):
        for side in "LR":
            rows.append({
                "patient": f"P{p:03d}",
                "split": split,
                "birads": "1" if (p + (side == "R")) % 3 else "4B",
                "density": "abcd"[p % 4],
                "study_description": "MAMMO SCREENING BILATERAL",
                "findings_text": f"{side} breast, no suspicious finding",
            })  # fmt: skip
    return pd.DataFrame(rows)


def _run(manifest: pd.DataFrame) -> SuiteResult:
    return validate_dataset(manifest, PHI, ["study_description", "findings_text"], ["birads", "density"])


def test_clean_manifest_passes_and_reports_class_balance() -> None:
    result = _run(_manifest())
    assert result.success and result.rows == 12 and result.blocking
    balance = result.report["class_balance"]
    assert sum(balance["birads"]["train"].values()) == 8
    assert balance["density"]["val"] == {"a": 2}
    assert balance == {"birads": class_balance(_manifest(), ["birads"])["birads"], "density": balance["density"]}


def test_patient_in_two_splits_fails_with_every_row_of_that_patient() -> None:
    manifest = _manifest()
    manifest.loc[0, "split"] = "test"  # P000's left side leaks into test, the right stays in train
    result = _run(manifest)
    rule = next(r for r in result.rules if r.description == "no patient in two splits")
    assert not result.success and rule.failing_count == 2
    assert {(e["patient"], e["patient_splits"]) for e in rule.examples} == {("P000", "test, train")}


def test_phi_in_a_text_column_fails_without_showing_the_phi() -> None:
    manifest = _manifest()
    manifest.loc[3, "findings_text"] = "Bn NGUYEN thi  lan, recall"  # no diacritics, other case, extra space
    manifest.loc[7, "study_description"] = "MAMMO 40723082"
    result = _run(manifest)
    rule = next(r for r in result.rules if r.description == "zero PHI in the text columns")
    assert rule.failing_count == 2
    assert [e["phi_found_in"] for e in rule.examples] == ["findings_text", "study_description"]
    shown = repr(result)
    assert "nguyen" not in shown.casefold() and "40723082" not in shown


def test_normalise_matches_vietnamese_without_diacritics() -> None:
    assert normalise("  Đặng   Thị  ") == normalise("dang thi") == "dang thi"


def test_manifest_without_a_text_column_is_a_caller_error() -> None:
    with pytest.raises(SuiteError, match="report"):
        validate(dataset_suite(PHI, ["report"]), _manifest())
    with pytest.raises(SuiteError, match="lacks"):
        validate(dataset_suite(PHI, ["findings_text"], patient_column="pseudonym"), _manifest())


def test_each_dataset_version_gets_a_readable_report(tmp_path: Path) -> None:
    from quality.gates import dataset_report

    manifest = _manifest()
    manifest.loc[0, "split"] = "test"
    result, path = dataset_report(manifest, PHI, ["findings_text"], ["birads"], "v3", tmp_path)
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "v3" / "quality.html" and result.blocks_export
    assert "Export blocked by: dataset" in page and "no patient in two splits: examples (2 of 2)" in page
    assert "class_balance" in page
    with pytest.raises(ValueError, match="version"):
        dataset_report(manifest, PHI, ["findings_text"], ["birads"], "../x", tmp_path)
