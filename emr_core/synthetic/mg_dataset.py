"""What a generated Digital Mammography For Presentation header is made of: devices, identities, study and image
attributes (mg_header turns them into elements and files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from emr_core.vocabulary.dicom import SopClass

MG_FOR_PRESENTATION = SopClass.MG_FOR_PRESENTATION.value
PACS_ISSUER = "PACS_MG"
INSTITUTION = "BENH VIEN SGM"

# PatientOrientation with the chest wall on the left for L and on the right for R.
ORIENTATION: dict[tuple[str, str], list[str]] = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "FR"],
    ("R", "MLO"): ["P", "FL"],
}
# Per-device SeriesDescription spellings: the ingest normaliser must parse all of them.
DESCRIPTION_STYLES: dict[str, str] = {
    "plain": "{lat} {view}",
    "joined": "{lat}{view}",
    "reversed": "{view} {lat}",
    "words": "{view} {side}",
    "vn": "{view} {side_vn}",
}


@dataclass(frozen=True)
class Device:
    """An acquisition device profile: vendor conventions that shape the header."""

    manufacturer: str
    model: str
    photometric: str
    bits_stored: int
    native_spacing_mm: float
    legacy_view_codes: bool
    description_style: str
    one_series_per_view: bool
    weight: float


DEVICES: tuple[Device, ...] = (
    Device("HOLOGIC, Inc.", "Selenia Dimensions", "MONOCHROME2", 14, 0.07, False, "plain", True, 0.40),
    Device("GE MEDICAL SYSTEMS", "Senographe Essential", "MONOCHROME1", 12, 0.10, True, "joined", False, 0.25),
    Device("FUJIFILM Corporation", "FDR MS-3500", "MONOCHROME1", 12, 0.05, True, "reversed", True, 0.20),
    Device("SIEMENS", "Mammomat Inspiration", "MONOCHROME2", 12, 0.085, False, "words", True, 0.15),
)


@dataclass(frozen=True)
class HeaderIdentity:
    """Patient identity exactly as the modality wrote it (may disagree with the registry)."""

    patient_id: str
    issuer: str
    patient_name: str
    utf8: bool
    birth_date: date
    sex: str


@dataclass(frozen=True)
class StudyHeader:
    """Study-level attributes shared by the four images."""

    study_uid: str
    accession: str
    study_date: date
    study_time: str
    identity: HeaderIdentity
    device: Device
    spacing_mm: float


@dataclass(frozen=True)
class ImageHeader:
    """Image-level attributes, including the deliberate header mess."""

    sop_uid: str
    series_uid: str
    series_number: int
    instance_number: int
    laterality: str
    view: str
    image_laterality: bool
    series_laterality: bool
    view_position: bool
    window_center: int
    window_width: int


def series_description(style: str, laterality: str, view: str) -> str:
    """SeriesDescription in one of the vendor spellings."""
    side = "LEFT" if laterality == "L" else "RIGHT"
    side_vn = "TRAI" if laterality == "L" else "PHAI"
    return DESCRIPTION_STYLES[style].format(lat=laterality, view=view, side=side, side_vn=side_vn)
