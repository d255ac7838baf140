"""`sgm demo-data --finding-fraction`: the share of exams with findings, recorded in the corpus's options."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import SgmCli


def _studies_with_findings(out: Path) -> tuple[int, int]:
    """(exams, exams with at least one finding) of a generated corpus."""
    with (out / "ground_truth" / "findings.csv").open(encoding="utf-8") as fh:
        with_findings = {row["study_uid"] for row in csv.DictReader(fh)}
    return json.loads((out / "corpus.json").read_text(encoding="utf-8"))["counts"]["studies"], len(with_findings)


def test_finding_fraction_option(sgm: SgmCli, tmp_path: Path) -> None:
    common = ("demo-data", "--patients", "8", "--seed", "7", "--matrix", "64x80", "--workers", "1")
    default, rich = tmp_path / "default", tmp_path / "rich"
    assert sgm(*common, "--out", str(default)).exit_code == 0
    done = sgm(*common, "--finding-fraction", "0.5", "--out", str(rich))
    assert done.exit_code == 0, done.output
    exams, with_findings = _studies_with_findings(rich)
    assert with_findings == round(0.5 * exams)
    assert _studies_with_findings(default)[1] < with_findings
    assert json.loads((rich / "corpus.json").read_text(encoding="utf-8"))["options"]["finding_fraction"] == 0.5
    refused = sgm(*common, "--finding-fraction", "1.5", "--out", str(tmp_path / "bad"))
    assert refused.exit_code != 0 and "finding-fraction" in refused.output
