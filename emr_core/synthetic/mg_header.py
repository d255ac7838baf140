"""The MG For Presentation header as (keyword, value) elements and the writers of a generated image.

`write_image` encodes each distinct element once and reuses its bytes; `write_reference_image` writes the same
elements through a pydicom Dataset and save_as. Both must write the same bytes, and the files of published
corpora must not change (tests/emr_core/synthetic/test_mg_header.py holds them to both).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from pydicom.charset import default_encoding
from pydicom.dataset import Dataset, FileMetaDataset, validate_file_meta
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from emr_core.synthetic.dicom_bytes import Element, ElementEncoder, as_dataset, part10, pixel_data
from emr_core.synthetic.mg_dataset import (
    INSTITUTION,
    MG_FOR_PRESENTATION,
    ORIENTATION,
    ImageHeader,
    StudyHeader,
    series_description,
)
from emr_core.vocabulary.dicom import VIEW_CODES, ViewPosition

UTF8 = "ISO_IR 192"
# One per process: worker processes live for the whole corpus, so device-level elements are encoded once.
_ENCODER = ElementEncoder()


@cache
def _meta_constants() -> tuple[Element, ...]:
    """File meta elements save_as writes besides the group length and the instance UID (pydicom fills some)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(MG_FOR_PRESENTATION)
    meta.MediaStorageSOPInstanceUID = UID("1.2")  # replaced per image
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    validate_file_meta(meta, enforce_standard=True)
    skip = {"FileMetaInformationGroupLength", "MediaStorageSOPInstanceUID"}
    elements = [meta[tag] for tag in list(meta.keys())]  # DataElements (iterating may give raw ones)
    return tuple((elem.keyword, elem.value) for elem in elements if elem.keyword not in skip)


def meta_elements(image: ImageHeader) -> list[Element]:
    """File meta elements of one image, without the group length."""
    return [*_meta_constants(), ("MediaStorageSOPInstanceUID", UID(image.sop_uid))]


def _patient_study(study: StudyHeader) -> list[Element]:
    """Patient and General Study modules."""
    ident, day, time = study.identity, f"{study.study_date:%Y%m%d}", study.study_time
    elements: list[Element] = [("SpecificCharacterSet", UTF8)] if ident.utf8 else []
    elements += [("PatientName", ident.patient_name), ("PatientID", ident.patient_id)]
    if ident.issuer:
        elements.append(("IssuerOfPatientID", ident.issuer))
    elements += [
        ("PatientBirthDate", f"{ident.birth_date:%Y%m%d}"),
        ("PatientSex", ident.sex),
        ("StudyInstanceUID", study.study_uid),
        *((keyword, day) for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")),
        *((keyword, time) for keyword in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime")),
        ("AccessionNumber", study.accession),
        ("ReferringPhysicianName", ""),
        ("StudyID", study.accession[-8:]),
        ("StudyDescription", "MAMMO SCREENING BILATERAL"),
    ]
    return elements


def _series_equipment(study: StudyHeader, image: ImageHeader) -> list[Element]:
    """General/DX/Mammography Series and General Equipment modules."""
    device = study.device
    elements: list[Element] = [
        ("Modality", "MG"),
        ("SeriesInstanceUID", image.series_uid),
        ("SeriesNumber", image.series_number),
        ("SeriesDescription", series_description(device.description_style, image.laterality, image.view)),
        ("PresentationIntentType", "FOR PRESENTATION"),
        ("Manufacturer", device.manufacturer),
        ("ManufacturerModelName", device.model),
        ("InstitutionName", INSTITUTION),
        ("StationName", "MG01"),
        ("DeviceSerialNumber", "SGM-" + device.model.split()[0].upper()),
        ("SoftwareVersions", "SGM-SYNTH 1.0"),
    ]
    if image.series_laterality:
        elements.append(("Laterality", image.laterality))
    return elements


def _code(value: str, scheme: str, meaning: str) -> tuple[Element, ...]:
    """A code sequence item."""
    return (("CodeValue", value), ("CodingSchemeDesignator", scheme), ("CodeMeaning", meaning))


def _view_code(view: str, legacy: bool) -> tuple[Element, ...]:
    """ViewCodeSequence item in SCT or in the legacy SRT scheme."""
    sct, srt, meaning = VIEW_CODES[ViewPosition(view)]
    code = _code(srt, "SRT", meaning) if legacy else _code(sct, "SCT", meaning)
    return (*code, ("ViewModifierCodeSequence", ()))


def _anatomy_positioning(study: StudyHeader, image: ImageHeader) -> list[Element]:
    """DX Anatomy Imaged, DX Positioning and Mammography Image view attributes."""
    angle = 0 if image.view == "CC" else (45 if image.laterality == "R" else -45)
    elements: list[Element] = [
        ("BodyPartExamined", "BREAST"),
        ("OrganExposed", "BREAST"),
        ("AcquisitionContextSequence", ()),
        ("AnatomicRegionSequence", (_code("76752008", "SCT", "Breast"),)),
        ("ViewCodeSequence", (_view_code(image.view, study.device.legacy_view_codes),)),
        ("PatientOrientation", tuple(ORIENTATION[(image.laterality, image.view)])),
        ("PositionerType", "MAMMOGRAPHIC"),
        ("PositionerPrimaryAngle", angle),
        ("BreastImplantPresent", "NO"),
        ("PartialView", "NO"),
    ]
    if image.image_laterality:
        elements.append(("ImageLaterality", image.laterality))
    if image.view_position:
        elements.append(("ViewPosition", image.view))
    return elements


def _acquisition(study: StudyHeader) -> list[Element]:
    """Detector, geometry and exposure attributes."""
    spacing = f"{study.spacing_mm:.6f}"
    return [
        ("ImagerPixelSpacing", (spacing, spacing)),
        ("PixelSpacing", (spacing, spacing)),
        ("PixelSpacingCalibrationType", "GEOMETRY"),
        ("PixelSpacingCalibrationDescription", "Magnification corrected at the breast support"),
        ("DistanceSourceToDetector", "660"),
        ("DistanceSourceToPatient", "600"),
        ("EstimatedRadiographicMagnificationFactor", "1.1"),
        ("DetectorType", "DIRECT" if study.device.photometric == "MONOCHROME2" else "SCINTILLATOR"),
        ("KVP", "29"),
        ("BodyPartThickness", "52"),
        ("CompressionForce", "110"),
        ("AnodeTargetMaterial", "TUNGSTEN"),
        ("FilterMaterial", "RHODIUM"),
    ]


def _image_pixel(study: StudyHeader, image: ImageHeader, rows: int, columns: int) -> list[Element]:
    """DX Image, Image Pixel and VOI LUT modules, without the pixel data."""
    device = study.device
    inverse = device.photometric == "MONOCHROME1"
    return [
        ("ImageType", ("DERIVED", "PRIMARY")),
        ("SamplesPerPixel", 1),
        ("PhotometricInterpretation", device.photometric),
        ("Rows", rows),
        ("Columns", columns),
        ("BitsAllocated", 16),
        ("BitsStored", device.bits_stored),
        ("HighBit", device.bits_stored - 1),
        ("PixelRepresentation", 0),
        ("PixelIntensityRelationship", "LOG"),
        ("PixelIntensityRelationshipSign", -1 if inverse else 1),
        ("RescaleIntercept", "0"),
        ("RescaleSlope", "1"),
        ("RescaleType", "US"),
        ("PresentationLUTShape", "INVERSE" if inverse else "IDENTITY"),
        ("WindowCenter", image.window_center),
        ("WindowWidth", image.window_width),
        ("VOILUTFunction", "LINEAR"),
        ("LossyImageCompression", "00"),
        ("BurnedInAnnotation", "NO"),
        ("QualityControlImage", "NO"),
    ]


def header_elements(study: StudyHeader, image: ImageHeader, rows: int, columns: int) -> list[Element]:
    """Every dataset element of the image except the pixel data, in no particular order."""
    return [
        ("SOPClassUID", MG_FOR_PRESENTATION),
        ("SOPInstanceUID", image.sop_uid),
        ("InstanceNumber", image.instance_number),
        *_patient_study(study),
        *_series_equipment(study, image),
        *_anatomy_positioning(study, image),
        *_acquisition(study),
        *_image_pixel(study, image, rows, columns),
    ]


def image_bytes(
    study: StudyHeader, image: ImageHeader, pixels: np.ndarray, encoder: ElementEncoder = _ENCODER
) -> bytes:
    """The Part 10 file of one image, as write_reference_image writes it."""
    encodings = UTF8 if study.identity.utf8 else default_encoding
    rows, columns = int(pixels.shape[0]), int(pixels.shape[1])
    dataset = encoder.group(header_elements(study, image, rows, columns), encodings)
    # BitsAllocated is always 16, for which pydicom resolves Pixel Data's "OB or OW" to OW.
    tail = pixel_data("OW", pixels.astype("<u2", copy=False).tobytes())
    return part10(encoder.file_meta(meta_elements(image)), dataset, tail)


def write_image(path: Path, study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> None:
    """Write one generated image's file in a single write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(study, image, pixels))


def reference_dataset(study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> Dataset:
    """The same image as a pydicom Dataset with its file meta."""
    rows, columns = int(pixels.shape[0]), int(pixels.shape[1])
    dataset = as_dataset(header_elements(study, image, rows, columns))
    dataset.file_meta = FileMetaDataset()
    for keyword, value in meta_elements(image):
        setattr(dataset.file_meta, keyword, value)
    dataset.PixelData = pixels.astype("<u2", copy=False).tobytes()
    return dataset


def write_reference_image(path: Path, study: StudyHeader, image: ImageHeader, pixels: np.ndarray) -> None:
    """Write one generated image with pydicom's own writer: slower, the reference `write_image` must match."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reference_dataset(study, image, pixels).save_as(path, enforce_file_format=True)
