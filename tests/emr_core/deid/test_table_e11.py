"""De-identified files checked against PS3.15 Table E.1-1 itself, with PHI everywhere the table names."""

from __future__ import annotations

import copy
import hashlib
import re
import sys
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from emr_core.deid import Deidentifier, DeidResult

sys.path.insert(0, str(Path(__file__).parent))
from phi_factory import CHARACTERISTICS, NESTED_PHI, PRIVATE_PHI, PhiFile, table_actions, write_phi_file

SECRET = hashlib.sha256(b"sgm test site secret").digest()
STUDY, SOP_A, SOP_B = "1.2.826.0.1.3680043.10.1199.1", "1.2.826.0.1.3680043.10.1199.2", "1.2.826.0.1.3680043.10.1199.3"
TEMPORAL = {"DA", "DT", "TM"}
KEPT = {Tag(keyword) for keyword in CHARACTERISTICS}
CLEANED = {Tag("StudyDescription"), Tag("SeriesDescription")}
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@pytest.fixture(scope="module", params=[False, True], ids=["elements after pixels", "pixels last"])
def run(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[list[PhiFile], list[DeidResult], list[Dataset]]:
    """Two images of one study (B references A), de-identified by one Deidentifier; both ways of
    copying the pixels (through memory, streamed from the source) must give the same guarantees."""
    src = tmp_path_factory.mktemp("phi")
    files = [
        write_phi_file(src / "a.dcm", SOP_A, STUDY, SOP_B, pixels_last=request.param),
        write_phi_file(src / "b.dcm", SOP_B, STUDY, SOP_A, pixels_last=request.param),
    ]
    out = tmp_path_factory.mktemp("out")
    deidentifier = Deidentifier(SECRET)
    results = [deidentifier.deidentify_file(f.path, out) for f in files]
    assert all(r.ok for r in results), [r.reason for r in results]
    return files, results, [dcmread(r.output) for r in results if r.output]


def _is_empty(ds: Dataset, tag: BaseTag) -> bool:
    return tag in ds and (ds[tag].value is None or ds[tag].value == "" or len(ds[tag].value) == 0)


def _changed(before: Dataset, after: Dataset, tag: BaseTag) -> bool:
    return tag in after and after[tag].value not in (None, "", b"") and after[tag].value != before[tag].value


def _check_option(before: Dataset, after: Dataset, tag: BaseTag) -> str | None:
    """Options override the table: kept characteristics, cleaned descriptors, shifted dates."""
    element = before[tag]
    if tag in KEPT:
        return None if tag in after and after[tag].value == element.value else "retained characteristic changed"
    if tag in CLEANED:
        return "descriptor not cleaned" if tag in after and after[tag].value == element.value else None
    if tag not in after:
        return "date removed, not shifted"
    return "date not shifted" if element.VR != "TM" and after[tag].value == element.value else None


def _check_action(before: Dataset, after: Dataset, tag: BaseTag, action: str) -> bool:
    """Whether one attribute follows the basic profile's action."""
    element = before[tag]
    checks = {
        "X": lambda: tag not in after,
        "D": lambda: (element.VR == "SQ" and tag in after) or _changed(before, after, tag),
        "Z": lambda: _is_empty(after, tag) or _changed(before, after, tag),
        "U": lambda: _changed(before, after, tag) and bool(UID_PATTERN.match(str(after[tag].value))),
    }
    # X/Z, X/D, Z/D, X/Z/D, X/Z/U*: absent, empty or a dummy are all allowed.
    checks["either"] = lambda: (
        tag not in after or _is_empty(after, tag) or _changed(before, after, tag) or element.VR == "SQ"
    )
    return checks.get(action, checks["either"])()


def _check(before: Dataset, after: Dataset, tag: BaseTag, action: str) -> str | None:
    """The problem with one attribute under its table action and our options, or None."""
    longitudinal = before[tag].VR in TEMPORAL and tag not in (Tag("PatientBirthDate"), Tag("PatientBirthTime"))
    if tag in KEPT or tag in CLEANED or longitudinal:
        return _check_option(before, after, tag)
    return None if _check_action(before, after, tag, action) else f"action {action} not applied"


def _private_tags(ds: Dataset) -> list[BaseTag]:
    found = [element.tag for element in ds if element.tag.is_private]
    for element in ds:
        if element.VR == "SQ":
            found += [tag for item in element.value for tag in _private_tags(item)]
    return found


def test_the_table_source_matches_the_standard() -> None:
    """Rows checked by hand against PS3.15 Table E.1-1, so that a broken table source cannot pass unseen."""
    actions = table_actions()
    expected = {
        "PatientName": "Z",
        "PatientBirthDate": "Z",
        "PatientAddress": "X",
        "OtherPatientIDsSequence": "X",
        "StudyDescription": "X",
        "ImageComments": "X",
        "StudyInstanceUID": "U",
        "SOPInstanceUID": "U",
        "AccessionNumber": "Z",
        "InstitutionName": "X/Z/D",
        "ReferencedImageSequence": "X/Z/U*",
        "ContentDate": "Z/D",
    }
    assert {keyword: actions.get(Tag(keyword)) for keyword in expected} == expected
    assert len(actions) > 600


@pytest.mark.parametrize("edition", ["dicomfields_2023", "dicomfields_2024b", "dicomfields_2026c"])
def test_every_table_attribute_follows_its_action(
    run: tuple[list[PhiFile], list[DeidResult], list[Dataset]], edition: str
) -> None:
    files, _, outputs = run
    actions = table_actions(edition)
    for phi, after in zip(files, outputs, strict=True):
        seeded = [tag for tag in actions if tag in phi.dataset]
        assert len(seeded) > 500, "the file must carry (nearly) every row of the table"
        problems = {
            f"{tag} {phi.dataset[tag].keyword} [{actions[tag]}]": problem
            for tag in seeded
            if (problem := _check(phi.dataset, after, tag, actions[tag]))
        }
        assert problems == {}


def test_no_phi_string_survives_anywhere(run: tuple[list[PhiFile], list[DeidResult], list[Dataset]]) -> None:
    files, results, _ = run
    for phi, result in zip(files, results, strict=True):
        assert result.output is not None
        data = result.output.read_bytes()
        retained = {str(value) for value in CHARACTERISTICS.values()}
        markers = [m for tag, m in phi.markers.items() if tag not in KEPT and m not in retained]
        markers += [PRIVATE_PHI, NESTED_PHI, "Phihoa", "Phivan", "PHIHOSPITAL", "P-PHI-001", "PHIACC77", "PHIREQ1"]
        markers += ["0903123456", "PHIOVERLAY", "Nguy", "NESTEDID", STUDY, SOP_A, SOP_B, "1.2.826.0.1.3680043.10.1199"]
        markers += ["20240315", "19700102", "20200301"]  # study, birth and other dates: shifted or gone
        leaked = [m for m in markers if m.encode("utf-8") in data]
        assert leaked == []
        assert SECRET not in data and SECRET.hex().encode() not in data


def test_private_tags_are_gone_at_every_level(run: tuple[list[PhiFile], list[DeidResult], list[Dataset]]) -> None:
    _, _, outputs = run
    for after in outputs:
        assert _private_tags(after) == []


def test_uids_are_remapped_consistently_across_files(
    run: tuple[list[PhiFile], list[DeidResult], list[Dataset]],
) -> None:
    _, _, (a, b) = run
    assert a.StudyInstanceUID == b.StudyInstanceUID != STUDY
    assert a.SOPInstanceUID not in (SOP_A, SOP_B) and b.SOPInstanceUID not in (SOP_A, SOP_B, a.SOPInstanceUID)
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    # The reference in B to A follows A's new UID, inside a nested sequence (Table action X/Z/U*).
    assert b.SourceImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.SourceImageSequence[0].ReferencedSOPInstanceUID == b.SOPInstanceUID
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID
    for uid in (a.StudyInstanceUID, a.SeriesInstanceUID, a.SOPInstanceUID, a.FrameOfReferenceUID):
        assert len(uid) <= 64 and UID_PATTERN.match(uid) and uid.startswith("2.25.")  # PS3.5 B.2 UUID form
    assert a.ManufacturerDeviceClassUID == b.ManufacturerDeviceClassUID != "1.2.826.0.1.3680043.10.1199.1576971"
    assert a.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"


def test_options_and_markers(run: tuple[list[PhiFile], list[DeidResult], list[Dataset]]) -> None:
    files, results, (a, b) = run
    key = Deidentifier(SECRET).key_for("PHIHOSPITAL", "P-PHI-001")
    assert a.PatientID == b.PatientID == str(a.PatientName).rstrip("^") == key.pseudonym == results[0].pseudonym
    assert a.PatientBirthDate in ("", None)
    assert "IssuerOfPatientID" not in a and "OtherPatientIDsSequence" not in a
    assert "RequestAttributesSequence" not in a
    # Modified dates: every date moved by the patient's whole-day shift, times of day kept.
    from datetime import date, timedelta

    original = files[0].dataset
    shifted = date.fromisoformat("2024-03-15") + timedelta(days=key.date_offset_days)
    assert a.StudyDate == shifted.strftime("%Y%m%d") and original.StudyDate == "20240315"
    assert a.get("StudyTime") == original.get("StudyTime")
    assert a.PatientIdentityRemoved == "YES"
    assert a.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [item.CodeValue for item in a.DeidentificationMethodCodeSequence] == ["113100", "113107", "113108", "113105"]
    assert {item.CodingSchemeDesignator for item in a.DeidentificationMethodCodeSequence} == {"DCM"}
    assert any("DICOGNITO" in value for value in a.DeidentificationMethod)
    # Clean Descriptors: rebuilt from coded values only.
    assert (a.StudyDescription, a.SeriesDescription) == ("MAMMOGRAPHY", "L CC")
    for keyword, value in CHARACTERISTICS.items():
        assert a.get(keyword) == value
    assert a.ViewCodeSequence[0].CodeValue == "399162004"
    assert a.ViewCodeSequence[0].ViewModifierCodeSequence[0].CodeMeaning == "magnification"


def test_the_oracle_rejects_dicognito_alone(run: tuple[list[PhiFile], list[DeidResult], list[Dataset]]) -> None:
    """The checks have teeth: dicognito without our profile leaves X attributes and private tags."""
    from dicognito.anonymizer import Anonymizer

    phi = run[0][0]
    after = copy.deepcopy(phi.dataset)
    Anonymizer(seed="control").anonymize(after)
    actions = table_actions()
    problems = {tag for tag in actions if tag in phi.dataset and _check(phi.dataset, after, tag, actions[tag])}
    assert {Tag("StudyDescription"), Tag("ImageComments"), Tag("OtherPatientIDsSequence")} <= problems
    assert _private_tags(after) != []
