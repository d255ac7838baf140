"""`sgm status` summarises what the platform holds, for people and (with --json) for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.support.dicom_factory import write_mg


def test_status_counts_instances_quarantine_conflicts_links_and_review(
    sgm: Callable[..., Result], tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    write_mg(drop / "mg.dcm", SOPInstanceUID="1.2.826.0.1.3680043.99.1")
    write_mg(drop / "ct.dcm", Modality="CT", SOPClassUID="1.2.840.10008.5.1.4.1.1.2")
    (drop / "notes.txt").write_text("not dicom")
    assert sgm("ingest", str(drop)).exit_code == 0
    write_mg(tmp_path / "again" / "mg.dcm", SOPInstanceUID="1.2.826.0.1.3680043.99.1", PatientSex="M")
    assert sgm("ingest", str(tmp_path / "again")).exit_code == 0
    assert sgm("link", "run").exit_code == 0

    result = sgm("status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["instances"] == 2
    assert status["instances_by_modality"] == {"MG": 1, "CT": 1}
    assert status["quarantined_by_reason"] == {"not_dicom": 1}
    assert status["conflicts"] == 1
    assert sum(status["links_by_method"].values()) + status["review_queue"] == status["studies"]

    human = sgm("status")
    assert "quarantined   1 by reason: not_dicom: 1" in human.output
    assert "conflicts     1" in human.output
