"""The site secret and what it derives: stable per patient, different between patients and sites."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from pydicom import dcmread

from emr_core.deid import Deidentifier, DeidKeyError, key_path, load_or_create_key, patient_key
from emr_core.deid.pseudonyms import MAX_SHIFT_DAYS, MIN_SHIFT_DAYS
from emr_core.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "dicom"))
from dicom_factory import write_mg


def test_secret_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = key_path(Settings(home=tmp_path / "sgm"))
    assert path == (tmp_path / "sgm" / "secrets" / "deid.key").resolve()
    first = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(first) == 32 and load_or_create_key(path) == first


def test_secret_path_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGM_DEID_KEY_FILE", str(tmp_path / "elsewhere.key"))
    assert key_path(Settings()) == tmp_path / "elsewhere.key"


def test_refuses_a_secret_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(DeidKeyError, match="chmod 600"):
        load_or_create_key(path)


@pytest.mark.parametrize("content", ["not hex at all", "abcd", ""])
def test_refuses_a_malformed_secret(tmp_path: Path, content: str) -> None:
    path = tmp_path / "deid.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(DeidKeyError):
        load_or_create_key(path)


def test_same_patient_same_key_different_patients_differ() -> None:
    secret = os.urandom(32)
    key = patient_key(secret, "HOSP", "P1")
    assert patient_key(secret, "HOSP", "P1") == key
    assert MIN_SHIFT_DAYS <= -key.date_offset_days <= MAX_SHIFT_DAYS
    others = [
        patient_key(secret, "HOSP", "P2"),
        patient_key(secret, "OTHER", "P1"),
        patient_key(os.urandom(32), "HOSP", "P1"),
    ]
    for other in others:
        assert other.pseudonym != key.pseudonym and other.seed != key.seed
    shifts = {patient_key(secret, "HOSP", f"P{i}").date_offset_days for i in range(200)}
    assert len(shifts) > 100, "date shifts must vary between patients"


def test_runs_with_the_same_secret_give_identical_output(tmp_path: Path) -> None:
    """Two runs (two Deidentifier objects, as in two dataset versions): same pseudonym, dates and UIDs."""
    source = write_mg(tmp_path / "in.dcm", BurnedInAnnotation="NO")
    secret = os.urandom(32)
    first = Deidentifier(secret).deidentify_file(source, tmp_path / "v1")
    second = Deidentifier(secret).deidentify_file(source, tmp_path / "v2")
    assert first.output and second.output
    assert first.output.relative_to(tmp_path / "v1") == second.output.relative_to(tmp_path / "v2")
    a, b = dcmread(first.output), dcmread(second.output)
    assert (a.PatientID, a.StudyDate, a.StudyInstanceUID) == (b.PatientID, b.StudyDate, b.StudyInstanceUID)
    other = dcmread(Deidentifier(os.urandom(32)).deidentify_file(source, tmp_path / "v3").output or "")
    assert other.PatientID != a.PatientID and other.StudyInstanceUID != a.StudyInstanceUID


def test_concurrent_first_use_agrees_on_one_secret(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "secrets" / "deid.key"
    with ProcessPoolExecutor(2) as pool:
        keys = list(pool.map(load_or_create_key, [path] * 8))
    assert len(set(keys)) == 1 and keys[0] == load_or_create_key(path)
    assert [p.name for p in path.parent.iterdir()] == ["deid.key"]
