"""Files that cannot be released are excluded with a reason; a batch never stops on one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emr_core.deid import Deidentifier, deidentify_files, find_files
from tests.support.dicom_factory import write_mg


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"BurnedInAnnotation": "YES"}, "BurnedInAnnotation is YES"),
        ({}, "BurnedInAnnotation is absent"),
        ({"BurnedInAnnotation": "NO", "PatientID": None}, "no PatientID"),
        ({"BurnedInAnnotation": "NO", "PatientID": "  "}, "no PatientID"),
        ({"BurnedInAnnotation": "NO", "StudyDate": "20241399"}, "de-identification failed"),
    ],
)
def test_refused_with_reason(tmp_path: Path, overrides: dict[str, object], reason: str) -> None:
    source = write_mg(tmp_path / "in.dcm", **overrides)
    result = Deidentifier(os.urandom(32)).deidentify_file(source, tmp_path / "out")
    assert not result.ok and reason in result.reason
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.dcm"))


def test_a_batch_survives_hostile_files(tmp_path: Path) -> None:
    src = tmp_path / "in"
    good = [write_mg(src / "deep" / "er" / f"{i}.dcm", BurnedInAnnotation="NO") for i in range(4)]
    truncated = src / "truncated.dcm"
    truncated.write_bytes(good[0].read_bytes()[:300])
    (src / "notes.txt").write_text("not dicom")
    (src / "empty.dcm").write_bytes(b"")
    out = tmp_path / "out"
    files = find_files([src], skip=out)
    results = list(deidentify_files(files, out, os.urandom(32), workers=2))
    assert [r.source for r in results] == files
    assert sorted(r.source for r in results if r.ok) == sorted(good)
    refused = {r.source.name: r.reason for r in results if not r.ok}
    assert set(refused) == {"truncated.dcm", "notes.txt", "empty.dcm"} and all(refused.values())
    assert len(list(out.rglob("*.dcm"))) == 4
    assert not list(out.rglob("*.part"))


def test_output_inside_the_source_is_not_read_again(tmp_path: Path) -> None:
    write_mg(tmp_path / "a.dcm", BurnedInAnnotation="NO")
    write_mg(tmp_path / "out" / "old.dcm", BurnedInAnnotation="NO")
    assert find_files([tmp_path], skip=tmp_path / "out") == [tmp_path / "a.dcm"]


@pytest.mark.parametrize("rows", [64, 512])  # small pixels read, large ones deferred
def test_a_file_cut_off_in_its_pixels_is_refused(tmp_path: Path, rows: int) -> None:
    source = write_mg(tmp_path / "in.dcm", rows=rows, columns=rows, BurnedInAnnotation="NO")
    source.write_bytes(source.read_bytes()[:-100])
    result = Deidentifier(os.urandom(32)).deidentify_file(source, tmp_path / "out")
    assert not result.ok and "truncated pixel data" in result.reason, result.reason
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.dcm"))
