"""Build and write Digital Mammography For Presentation datasets with pydicom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from emr_core.vocabulary.dicom import VIEW_CODES, SopClass, ViewPosition

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


def _dicom_date(value: date) -> str:
    """DA string."""
    return value.strftime("%Y%m%d")


def series_description(style: str, laterality: str, view: str) -> str:
    """SeriesDescription in one of the vendor spellings."""
    side = "LEFT" if laterality == "L" else "RIGHT"
    side_vn = "TRAI" if laterality == "L" else "PHAI"
    return DESCRIPTION_STYLES[style].format(lat=laterality, view=view, side=side, side_vn=side_vn)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _view_code(view: str, legacy: bool) -> Dataset:
    """ViewCodeSequence item in SCT or in the legacy SRT scheme."""
    # Real devices still send the legacy SRT codes.
    sct, srt, meaning = VIEW_CODES[ViewPosition(view)]
    item = _code(srt, "SRT", meaning) if legacy else _code(sct, "SCT", meaning)
    item.ViewModifierCodeSequence = []
    return item


def _patient_study(ds: Dataset, study: StudyHeader) -> None:
    """Patient and General Study modules."""
    ident = study.identity
    if ident.utf8:
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = ident.patient_name
    ds.PatientID = ident.patient_id
    if ident.issuer:
        ds.IssuerOfPatientID = ident.issuer
    ds.PatientBirthDate = _dicom_date(ident.birth_date)
    ds.PatientSex = ident.sex
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = _dicom_date(study.study_date)
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = study.study_time
    ds.AccessionNumber = study.accession
    ds.ReferringPhysicianName = ""
    ds.StudyID = study.accession[-8:]
    ds.StudyDescription = "MAMMO SCREENING BILATERAL"


def _series_equipment(ds: Dataset, study: StudyHeader, image: ImageHeader) -> None:
    """General/DX/Mammography Series and General Equipment modules."""
    ds.Modality = "MG"
    ds.SeriesInstanceUID = image.series_uid
    ds.SeriesNumber = image.series_number
    style = study.device.description_style
    ds.SeriesDescription = series_description(style, image.laterality, image.view)
    if image.series_laterality:
        ds.Laterality = image.laterality
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = study.device.manufacturer
    ds.ManufacturerModelName = study.device.model
    ds.InstitutionName = INSTITUTION
    ds.StationName = "MG01"
    ds.DeviceSerialNumber = "SGM-" + study.device.model.split()[0].upper()
    ds.SoftwareVersions = "SGM-SYNTH 1.0"


def _anatomy_positioning(ds: Dataset, study: StudyHeader, image: ImageHeader) -> None:
    """DX Anatomy Imaged, DX Positioning and Mammography Image view attributes."""
    if image.image_laterality:
        ds.ImageLaterality = image.laterality
    ds.BodyPartExamined = "BREAST"
    ds.OrganExposed = "BREAST"
    ds.AcquisitionContextSequence = []
    ds.AnatomicRegionSequence = [_code("76752008", "SCT", "Breast")]
    ds.ViewCodeSequence = [_view_code(image.view, study.device.legacy_view_codes)]
    if image.view_position:
        ds.ViewPosition = image.view
    ds.PatientOrientation = ORIENTATION[(image.laterality, image.view)]
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.PositionerPrimaryAngle = 0 if image.view == "CC" else (45 if image.laterality == "R" else -45)
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"


def _acquisition(ds: Dataset, study: StudyHeader) -> None:
    """Detector, geometry and exposure attributes (For Presentation needs spacing + magnification)."""
    spacing = f"{study.spacing_mm:.6f}"
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.PixelSpacing = [spacing, spacing]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "Magnification corrected at the breast support"
    ds.DistanceSourceToDetector = "660"
    ds.DistanceSourceToPatient = "600"
    # Must equal source-to-detector / source-to-patient (checked by dciodvfy).
    ds.EstimatedRadiographicMagnificationFactor = "1.1"
    ds.DetectorType = "DIRECT" if study.device.photometric == "MONOCHROME2" else "SCINTILLATOR"
    ds.KVP = "29"
    ds.BodyPartThickness = "52"
    ds.CompressionForce = "110"
    ds.AnodeTargetMaterial = "TUNGSTEN"
    ds.FilterMaterial = "RHODIUM"


def _image_pixel(ds: Dataset, study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> None:
    """DX Image, Image Pixel and VOI LUT modules."""
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = study.device.photometric
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated, ds.BitsStored = 16, study.device.bits_stored
    ds.HighBit = study.device.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1 if study.device.photometric == "MONOCHROME1" else 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.PresentationLUTShape = "INVERSE" if study.device.photometric == "MONOCHROME1" else "IDENTITY"
    ds.WindowCenter, ds.WindowWidth = image.window_center, image.window_width
    ds.VOILUTFunction = "LINEAR"
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.QualityControlImage = "NO"
    ds.PixelData = pixels.astype("<u2", copy=False).tobytes()


def build_dataset(study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> Dataset:
    """Assemble a complete MG For Presentation dataset with file meta."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(MG_FOR_PRESENTATION)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(image.sop_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = MG_FOR_PRESENTATION, image.sop_uid
    _patient_study(ds, study)
    _series_equipment(ds, study, image)
    ds.InstanceNumber = image.instance_number
    _anatomy_positioning(ds, study, image)
    _acquisition(ds, study)
    _image_pixel(ds, study, image, pixels)
    return ds


def write_dataset(path: Path, ds: Dataset) -> None:
    """Write a Part 10 file (encoding comes from the file meta transfer syntax)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_reference_image(path: Path, study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> None:
    """Write one generated image through a pydicom Dataset: the reference the fast writer must match byte for byte."""
    write_dataset(path, build_dataset(study, image, pixels))
