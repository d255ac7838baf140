"""The synthetic corpus: layout, determinism, ground truth and header disagreements."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom
import pytest

from emr_core.synthetic import CorpusOptions, generate_corpus
from emr_core.synthetic.corpus import GT_COLUMNS, STUDY_IMAGE_VARIANTS, options_key, plan_corpus
from emr_core.synthetic.people import ascii_fold
from emr_core.synthetic.registry import REGISTRY_COLUMNS, STUDY_VARIANTS, quota

OPTIONS = CorpusOptions(patients=60, seed=7, columns=128, rows=160, registry_extra=40)
BIRADS_ORDER = ("1", "2", "3", "4A", "4B", "4C", "5")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    written: list[int] = []
    summary = generate_corpus(out, OPTIONS, progress=written.append)
    assert sum(written) == summary.images
    return out


@pytest.fixture(scope="module")
def gt(corpus: Path) -> dict[str, list[dict[str, str]]]:
    tables = {name: _read(corpus / "ground_truth" / f"{name}.csv") for name in GT_COLUMNS}
    tables["registry"] = _read(corpus / "registry.csv")
    return tables


def test_layout_and_columns(corpus: Path) -> None:
    assert (corpus / "corpus.json").is_file()
    for name, columns in GT_COLUMNS.items():
        with (corpus / "ground_truth" / f"{name}.csv").open(encoding="utf-8") as fh:
            assert tuple(next(csv.reader(fh))) == columns
    with (corpus / "registry.csv").open(encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == REGISTRY_COLUMNS


def test_four_views_per_study_and_paths(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    person_of = {s["study_uid"]: s["person_id"] for s in gt["studies"]}
    views: Counter[tuple[str, ...]] = Counter()
    for img in gt["images"]:
        views[img["study_uid"]] += 1
        assert img["path"] == f"dicom/{person_of[img['study_uid']]}/{img['study_uid']}/{img['sop_instance_uid']}.dcm"
        assert (corpus / img["path"]).is_file()
    assert set(views.values()) == {4}
    assert len(views) == len(gt["studies"])
    by_study: dict[str, Any] = {}
    for img in gt["images"]:
        by_study.setdefault(img["study_uid"], set()).add(img["laterality"] + img["view"])
    assert all(v == {"LCC", "LMLO", "RCC", "RMLO"} for v in by_study.values())
    assert len(list((corpus / "dicom").rglob("*.dcm"))) == len(gt["images"])


def test_uids_unique(gt: dict[str, list[dict[str, str]]]) -> None:
    sops = [i["sop_instance_uid"] for i in gt["images"]]
    studies = [s["study_uid"] for s in gt["studies"]]
    accessions = [s["accession_number"] for s in gt["studies"]]
    assert len(set(sops)) == len(sops) and len(set(studies)) == len(studies)
    assert len(set(accessions)) == len(accessions)
    assert not set(sops) & set(studies)
    series_studies: dict[str, Any] = {}
    for img in gt["images"]:
        assert series_studies.setdefault(img["series_uid"], img["study_uid"]) == img["study_uid"]


def test_boxes_cross_view_and_inside_image(gt: dict[str, list[dict[str, str]]]) -> None:
    images = {i["sop_instance_uid"]: i for i in gt["images"]}
    boxes: dict[str, Any] = {}
    for b in gt["boxes"]:
        img = images[b["sop_instance_uid"]]
        x0, y0, x1, y1 = (int(b[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        assert 0 <= x0 < x1 <= int(img["columns"]) and 0 <= y0 < y1 <= int(img["rows"])
        assert b["view"] == img["view"]
        boxes.setdefault(b["finding_id"], []).append(img)
    assert gt["findings"], "a 60-patient corpus must contain findings"
    for f in gt["findings"]:
        imgs = boxes[f["finding_id"]]
        assert sorted(i["view"] for i in imgs) == ["CC", "MLO"]
        assert all(i["study_uid"] == f["study_uid"] and i["laterality"] == f["laterality"] for i in imgs)
    assert set(boxes) == {f["finding_id"] for f in gt["findings"]}


def test_findings_complete_and_assessments_consistent(gt: dict[str, list[dict[str, str]]]) -> None:
    for f in gt["findings"]:
        fields = (
            ("mass_shape", "mass_margin", "mass_density")
            if f["finding_type"] == "mass"
            else ("calc_morphology", "calc_distribution")
        )
        assert f["finding_type"] in ("mass", "calcification")
        assert all(f[k] for k in fields)
        assert f["birads"] in ("3", "4A", "4B", "4C", "5")
    side_birads: dict[tuple[str, str], list[str]] = {}
    for f in gt["findings"]:
        side_birads.setdefault((f["study_uid"], f["laterality"]), []).append(f["birads"])
    for b in gt["breasts"]:
        assert b["composition"] in "abcd"
        expected = side_birads.get((b["study_uid"], b["laterality"]))
        if expected:
            assert b["assessment"] == max(expected, key=BIRADS_ORDER.index)
        else:
            assert b["assessment"] in ("1", "2")
    exams_with = {f["study_uid"] for f in gt["findings"]}
    assert 0.1 <= len(exams_with) / len(gt["studies"]) <= 0.35
    assert {b["composition"] for b in gt["breasts"]} == set("abcd")


def _header(corpus: Path, gt: dict[str, list[dict[str, str]]], study_uid: str) -> pydicom.Dataset:
    path = next(i["path"] for i in gt["images"] if i["study_uid"] == study_uid)
    return pydicom.dcmread(corpus / path, stop_before_pixels=True)


def test_every_identity_variant_present_in_proportion(gt: dict[str, list[dict[str, str]]]) -> None:
    counts = Counter(v for s in gt["studies"] for v in s["header_variant"].split(";"))
    n = len(gt["studies"])
    for variant, fraction in STUDY_VARIANTS:
        assert counts[variant] >= 1, variant
        assert counts[variant] <= max(3, 2 * fraction * n), variant
    assert counts["exact"] >= 0.3 * n
    assert counts["not_in_registry"] >= 1 and counts["shared_name_dob"] >= 2


def test_identity_variants_match_headers(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    persons = {p["person_id"]: p for p in gt["persons"]}
    for s in gt["studies"]:
        variants, person = set(s["header_variant"].split(";")), persons[s["person_id"]]
        ds = _header(corpus, gt, s["study_uid"])
        family, given, _middle = str(ds.PatientName).split("^")
        assert (ds.PatientID, ds.get("IssuerOfPatientID", ""), str(ds.PatientName)) == (
            s["dicom_patient_id"],
            s["dicom_issuer"],
            s["dicom_patient_name"],
        )
        if "pacs_id" in variants:
            assert ds.IssuerOfPatientID == "PACS_MG" and ds.PatientID.startswith("MG")
        else:
            assert ds.PatientID == person["registry_patient_id"]
            assert ("IssuerOfPatientID" in ds) == ("missing_issuer" not in variants)
        if "ascii_name" in variants:
            assert "SpecificCharacterSet" not in ds and str(ds.PatientName).isascii()
        else:
            assert ds.SpecificCharacterSet == "ISO_IR 192"
        native_family = person["full_name"].split()[0]
        first = given if "swapped_name" in variants else family
        assert (ascii_fold(first) == ascii_fold(native_family)) or "name_typo" in variants
        header_birth = f"{ds.PatientBirthDate[:4]}-{ds.PatientBirthDate[4:6]}-{ds.PatientBirthDate[6:]}"
        assert (header_birth != person["birth_date"]) == ("wrong_birth_date" in variants)


def test_registry_disagreements(gt: dict[str, list[dict[str, str]]]) -> None:
    registry = {r["patient_id"]: r for r in gt["registry"]}
    assert len(registry) == len(gt["registry"])
    outside = [p for p in gt["persons"] if not p["registry_patient_id"]]
    assert 1 <= len(outside) <= 4
    inside = [p for p in gt["persons"] if p["registry_patient_id"]]
    assert all(registry[p["registry_patient_id"]]["full_name"] == p["full_name"] for p in inside)
    assert len(gt["registry"]) == len(inside) + OPTIONS.registry_extra
    same = Counter((r["full_name"], r["birth_date"]) for r in gt["registry"])
    assert any(c >= 2 for c in same.values())
    known = [a for r in gt["registry"] for a in r["accession_numbers"].split(";") if a]
    assert 0.3 <= len(known) / len(gt["studies"]) <= 0.7
    assert all(r["sex"] == "F" for r in gt["registry"])


def test_diacritics_round_trip(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    exact = [s for s in gt["studies"] if s["header_variant"] == "exact"]
    decoded = [str(_header(corpus, gt, s["study_uid"]).PatientName) for s in exact]
    assert decoded == [s["dicom_patient_name"] for s in exact]
    assert any(not name.isascii() for name in decoded)
    raw = (corpus / next(i["path"] for i in gt["images"] if i["study_uid"] == exact[0]["study_uid"])).read_bytes()
    assert exact[0]["dicom_patient_name"].encode("utf-8") in raw


def test_photometric_mix_and_inversion(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    seen: dict[Any, Any] = {}
    for img in gt["images"]:
        seen.setdefault(img["photometric"], img)
    assert set(seen) == {"MONOCHROME1", "MONOCHROME2"}
    for photometric, img in seen.items():
        ds = pydicom.dcmread(corpus / img["path"])
        pixels = ds.pixel_array
        assert ds.PhotometricInterpretation == photometric and ds.BitsStored in (12, 14)
        assert pixels.shape == (int(img["rows"]), int(img["columns"])) and pixels.max() < 2**ds.BitsStored
        air_col = -3 if img["laterality"] == "L" else 2  # far from the chest wall
        air, breast = int(pixels[5:-5, air_col].mean()), int(pixels[int(img["rows"]) // 2, 1 if air_col < 0 else -2])
        assert (air > breast) == (photometric == "MONOCHROME1")
    assert len({i["manufacturer"] for i in gt["images"]}) >= 3


def test_image_header_variants(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    counts = Counter(v for i in gt["images"] for v in i["header_variant"].split(";"))
    for flag, _ in STUDY_IMAGE_VARIANTS:
        assert counts[flag] >= 4, flag
    for img in gt["images"]:
        variant = img["header_variant"]
        if "no_image_laterality" in variant or "no_view_position" in variant:
            ds = pydicom.dcmread(corpus / img["path"], stop_before_pixels=True)
            assert ("ImageLaterality" in ds) == ("no_image_laterality" not in variant)
            assert ("ViewPosition" in ds) == ("no_view_position" not in variant)
            if "series_laterality_only" in variant:
                assert ds.Laterality == img["laterality"]
            assert ds.ViewCodeSequence[0].CodeMeaning in ("cranio-caudal", "medio-lateral oblique")


def test_dciodvfy_clean(corpus: Path, gt: dict[str, list[dict[str, str]]]) -> None:
    if shutil.which("dciodvfy") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("dciodvfy (dicom3tools) is required in CI")
        pytest.skip("dciodvfy not installed (apt-get install dicom3tools)")
    picked: dict[Any, Any] = {}
    for img in gt["images"]:
        if "no_image_laterality" not in img["header_variant"]:
            picked.setdefault((img["manufacturer"], img["photometric"], img["view"]), img)
    for img in picked.values():
        result = subprocess.run(["dciodvfy", str(corpus / img["path"])], check=False, capture_output=True, text=True)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        assert not errors, (img["manufacturer"], img["header_variant"], errors)


def test_deterministic_across_runs_and_workers(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_corpus(again, CorpusOptions(**{**OPTIONS.__dict__, "workers": 2}))
    assert _hashes(again) == _hashes(corpus)


def test_idempotent_and_refuses_other_options(corpus: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in corpus.rglob("*") if p.is_file()}
    summary = generate_corpus(corpus, OPTIONS)
    assert summary.images == len([p for p in before if p.suffix == ".dcm"])
    assert {p: p.stat().st_mtime_ns for p in corpus.rglob("*") if p.is_file()} == before
    with pytest.raises(ValueError, match="different options"):
        generate_corpus(corpus, CorpusOptions(**{**OPTIONS.__dict__, "seed": 8}))


def test_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        generate_corpus(tmp_path, CorpusOptions(patients=1, columns=64, rows=64))


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_finding_fraction_sets_the_share_of_exams_with_findings(fraction: float) -> None:
    _, plans = plan_corpus(CorpusOptions(patients=20, seed=7, columns=64, rows=64, finding_fraction=fraction))
    with_findings = [p for p in plans if p.findings]
    assert len(with_findings) == quota(fraction, len(plans), forced_from=5)
    assert all(len(p.findings) in (1, 2) for p in with_findings)


def test_default_finding_fraction_keeps_published_corpora_and_others_differ(corpus: Path) -> None:
    # Corpora made before the option existed keep their key, hence their UIDs and corpus.json.
    assert "finding_fraction" not in options_key(OPTIONS)
    assert "finding_fraction" not in (corpus / "corpus.json").read_text(encoding="utf-8")
    richer = CorpusOptions(**{**OPTIONS.__dict__, "finding_fraction": 0.5})
    assert options_key(richer)["finding_fraction"] == 0.5
    published = {row["study_uid"] for row in _read(corpus / "ground_truth" / "studies.csv")}
    assert {p.header.study_uid for p in plan_corpus(richer)[1]}.isdisjoint(published)
    with pytest.raises(ValueError, match="finding_fraction"):
        generate_corpus(corpus, richer)
    with pytest.raises(ValueError, match="finding_fraction"):
        generate_corpus(corpus.parent / "bad", CorpusOptions(patients=1, columns=64, rows=64, finding_fraction=1.5))
