"""MG files seeded with PHI in every attribute of PS3.15 Table E.1-1, private tags and nested sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomanonymizer.dicomfields_selector import ANONYMIZATION_CATEGORIES, dicom_anonymization_database_selector
from pydicom.datadict import DicomDictionary, dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from tests.support.dicom_factory import code_item, mg_dataset, write

EDITION = "dicomfields_2026c"
# Values kept by the Retain Patient Characteristics option: realistic ones, asserted unchanged.
CHARACTERISTICS: dict[str, Any] = {
    "PatientAge": "052Y",
    "PatientSex": "F",
    "PatientSize": "1.58",
    "PatientWeight": "61",
    "EthnicGroup": "KINH",
    "PregnancyStatus": 4,
    "SmokingStatus": "NO",
    "PatientSexNeutered": "UNALTERED",
}
PRIVATE_PHI = "PHIPRIVATE Tran Van Bay"
NESTED_PHI = "Le^Thi^Nested"
ROOT = "1.2.826.0.1.3680043.10.1199"


def table_actions(edition: str = EDITION) -> dict[BaseTag, str]:
    """The standard's table as dicom-anonymizer ships it: tag -> action (exact rows only)."""
    database = dicom_anonymization_database_selector(edition)
    actions: dict[BaseTag, str] = {}
    for category in ANONYMIZATION_CATEGORIES:
        if category == "ALL_TAGS":
            continue
        action = category.removesuffix("_TAGS").replace("_STAR", "*").replace("_", "/")
        for row in database[category]:
            if len(row) == 2:
                actions[Tag(row[0], row[1])] = action
    return actions


def _marker(tag: BaseTag) -> str:
    return f"PHI{int(tag):08X}"  # unique per tag, 11 characters: fits SH and CS


def _value(tag: BaseTag, vr: str) -> Any:
    """A value of the VR that is unmistakably this tag's PHI."""
    marker = _marker(tag)
    text = {"PN": f"Phi^{marker}", "AE": marker, "UR": f"http://{marker}.example"}
    numbers = {"IS": "123", "DS": "1.5", "US": 7, "SS": 7, "UL": 7, "SL": 7, "FL": 1.5, "FD": 1.5, "SV": 7, "UV": 7}
    if vr in text:
        return text[vr]
    if vr in ("LO", "SH", "LT", "ST", "UT", "UC", "CS"):
        return marker
    if vr in numbers:
        return numbers[vr]
    return {
        "DA": "20200301",
        "TM": "101112",
        "DT": "20200301101112",
        "AS": "045Y",
        "UI": f"{ROOT}.{int(tag)}",
        "AT": 0x00100010,
    }.get(vr, (marker + "X").encode("ascii"))


def _nested_item(tag: BaseTag) -> Dataset:
    """One sequence item with a name, an ID, a referenced UID and a private tag inside."""
    item = Dataset()
    item.PatientName = NESTED_PHI
    item.PatientID = f"NESTEDID{int(tag) & 0xFFFF:04X}"
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    item.ReferencedSOPInstanceUID = f"{ROOT}.9.{int(tag)}"
    item.private_block(0x0011, "PHI CORP", create=True).add_new(0x01, "LO", PRIVATE_PHI)
    return item


@dataclass
class PhiFile:
    path: Path
    dataset: Dataset
    markers: dict[BaseTag, str] = field(default_factory=dict)


def _fill_table(ds: Dataset, actions: dict[BaseTag, str]) -> dict[BaseTag, str]:
    markers: dict[BaseTag, str] = {}
    for tag in actions:
        if tag.group in (0x0000, 0x0002) or tag in ds or tag not in DicomDictionary:
            continue  # command and file meta groups; rows newer than pydicom's dictionary
        vr = dictionary_VR(tag).split(" or ")[0]
        if vr == "SQ":
            ds.add_new(tag, vr, Sequence([_nested_item(tag)]))
            continue
        ds.add_new(tag, vr, _value(tag, vr))
        if vr in ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE", "UR"):
            markers[tag] = _marker(tag)
    return markers


def phi_dataset(sop_uid: str, study_uid: str, referenced_sop: str) -> PhiFile:
    """One MG image of patient P-PHI-001 with every table attribute filled."""
    ds = mg_dataset(
        rows=256,  # pixels above the deferral size: copied from the source file, as a real mammogram's are
        columns=192,
        BurnedInAnnotation="NO",
        SOPInstanceUID=sop_uid,
        StudyInstanceUID=study_uid,
        SeriesInstanceUID=f"{study_uid}.1",
        PatientName="Nguyễn^Thị^Phihoa",
        PatientID="P-PHI-001",
        IssuerOfPatientID="PHIHOSPITAL",
        StudyDescription="MAMMO for Nguyen Thi Phihoa 0903123456",
        SeriesDescription="L CC Dr Phivan",
        AccessionNumber="PHIACC77",
        **CHARACTERISTICS,
    )
    ds.RequestAttributesSequence = Sequence([_nested_item(Tag("RequestAttributesSequence"))])
    ds.RequestAttributesSequence[0].RequestedProcedureID = "PHIREQ1"
    ds.RequestAttributesSequence[0].ScheduledProcedureStepDescription = "Phi biopsy planning"
    ds.ReferencedStudySequence = Sequence([Dataset()])
    ds.ReferencedStudySequence[0].ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID = study_uid
    ds.SourceImageSequence = Sequence([Dataset()])
    ds.SourceImageSequence[0].ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SourceImageSequence[0].ReferencedSOPInstanceUID = referenced_sop
    ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence([code_item("399161006", "SCT", "magnification")])
    ds.private_block(0x0009, "PHI CORP", create=True).add_new(0x10, "LO", PRIVATE_PHI)
    ds.add_new(0x60004000, "LT", "PHIOVERLAY comments")
    markers = _fill_table(ds, table_actions())
    return PhiFile(Path(), ds, markers)


def write_phi_file(path: Path, sop_uid: str, study_uid: str, referenced_sop: str, pixels_last: bool = False) -> PhiFile:
    """pixels_last drops the table's rows after Pixel Data (signatures, padding): such files have
    their pixels copied from the source; with those rows they take the in-memory path."""
    phi = phi_dataset(sop_uid, study_uid, referenced_sop)
    if pixels_last:
        for tag in [element.tag for element in phi.dataset if element.tag > Tag("PixelData")]:
            del phi.dataset[tag]
    phi.path = write(path, phi.dataset)
    return phi
