"""De-identified synthetic mammograms stay valid objects: dciodvfy reports nothing new."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from emr_core.deid import Deidentifier
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

# Values dciodvfy quotes differ after remapping; compare messages without them.
_VALUES = re.compile(r"<[^>]*>|\[[^\]]*\]|= <.*$")


def _dciodvfy(path: Path) -> set[str]:
    """dciodvfy's errors and warnings, values stripped so that only the kind and the attribute remain."""
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).splitlines()
    return {_VALUES.sub("<>", line) for line in lines if line.startswith(("Error", "Warning"))}


@pytest.fixture(scope="module")
def phi_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Synthetic MG images with extra PHI a real device or RIS would add."""
    if shutil.which("dciodvfy") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dciodvfy (dicom3tools) is required")
        pytest.skip("dciodvfy (dicom3tools) not installed")
    out = tmp_path_factory.mktemp("corpus")
    # 192 x 256: pixels above the deferral size, so the copies stream them as real mammograms do.
    generate_corpus(out, CorpusOptions(patients=2, seed=3, columns=192, rows=256, prior_fraction=0.0))
    paths = sorted((out / "dicom").rglob("*.dcm"))
    for path in paths:
        ds = dcmread(path)
        ds.ReferringPhysicianName, ds.OperatorsName = "Pham^Van^Referrer", "Tran^Thi^Tech"
        ds.ImageComments, ds.PatientAge, ds.PatientWeight = "called Nguyen 0903123456", "057Y", "58"
        ds.private_block(0x0019, "ACME MG", create=True).add_new(0x01, "LO", "Nguyen Thi Private")
        ds.save_as(path, enforce_file_format=True)
    return paths


def test_dciodvfy_reports_nothing_new(phi_images: list[Path], tmp_path: Path) -> None:
    deidentifier = Deidentifier(b"v" * 32)
    for path in phi_images:
        result = deidentifier.deidentify_file(path, tmp_path)
        assert result.output is not None, result.reason
        before, after = _dciodvfy(path), _dciodvfy(result.output)
        assert after - before == set(), f"{path.name}: new dciodvfy messages"
        assert not any(line.startswith("Error") for line in after)
        data = result.output.read_bytes()
        for phi in (b"Referrer", b"Tech", b"0903123456", b"Private", str(dcmread(path).PatientID).encode()):
            assert phi not in data
