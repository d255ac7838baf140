"""Small DICOM files for the ingest tests, built with pydicom (imported via sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def code_item(value: str, scheme: str = "SCT", meaning: str = "") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def mg_dataset(rows: int = 64, columns: int = 48, **overrides: Any) -> Dataset:
    """A small MG For Presentation image; keyword overrides win (None deletes)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = MG_FOR_PRESENTATION, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyDate, ds.AccessionNumber, ds.Modality = "20240315", "ACC1", "MG"
    ds.Manufacturer, ds.StudyDescription, ds.SeriesDescription = "ACME", "MAMMO SCREEN", "L CC"
    ds.PatientName, ds.PatientID, ds.IssuerOfPatientID = "Nguyễn^Lan^Thị", "P1", "HOSP"
    ds.PatientBirthDate, ds.PatientSex, ds.SeriesNumber = "19700102", "F", 3
    ds.ImageLaterality, ds.ViewPosition, ds.ImagerPixelSpacing = "L", "CC", [0.07, 0.065]
    ds.ViewCodeSequence = Sequence([code_item("399162004", "SCT", "cranio-caudal")])
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes(range(256)) * (rows * columns * 2 // 256) + b"\0" * (rows * columns * 2 % 256)
    for keyword, value in overrides.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def write(path: Path, ds: Dataset) -> Path:
    """Save ds as a DICOM file (file meta SOP fields follow the dataset)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file meta needs a SOP Instance UID even when a test removed it from the data set.
    ds.file_meta.MediaStorageSOPInstanceUID = UID(ds.get("SOPInstanceUID") or generate_uid())
    ds.file_meta.MediaStorageSOPClassUID = UID(ds.get("SOPClassUID") or MG_FOR_PRESENTATION)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_mg(path: Path, **overrides: Any) -> Path:
    return write(path, mg_dataset(**overrides))


def ct_dataset(**overrides: Any) -> Dataset:
    return mg_dataset(
        SOPClassUID=CT_IMAGE,
        Modality="CT",
        ImageLaterality=None,
        ViewPosition=None,
        ViewCodeSequence=None,
        SeriesDescription="HEAD",
        **overrides,
    )


def _dataset_start(raw: bytes) -> int:
    """Offset of the data set: after the preamble, 'DICM' and the measured file meta group."""
    return 144 + int.from_bytes(raw[140:144], "little")


def with_raw_element(source: Path, target: Path, element: bytes) -> Path:
    """source with `element` (encoded bytes) inserted as the first element of its data set."""
    raw = source.read_bytes()
    start = _dataset_start(raw)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw[:start] + element + raw[start:])
    return target


# (0008,0001) sorts before every element mg_dataset writes; each value is 4 bytes.
UNKNOWN_VR_ELEMENT = b"\x08\x00\x01\x00ZZ\x04\x00ABCD"  # explicit VR "ZZ": no such VR
IMPLICIT_VR_ELEMENT = b"\x08\x00\x01\x00\x04\x00\x00\x00ABCD"  # tag + 4-byte length, no VR
FILE_META_ELEMENT = b"\x02\x00\x13\x00SH\x04\x00EVIL"  # (0002,0013) belongs in the file meta only


def poison_files(folder: Path) -> dict[str, Path]:
    """One MG file per encoding error, keyed by the quarantine reason it must get."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for reason, element in (
        ("unknown_vr", UNKNOWN_VR_ELEMENT),
        ("implicit_vr_in_explicit", IMPLICIT_VR_ELEMENT),
        ("file_meta_in_dataset", FILE_META_ELEMENT),
    ):
        made[reason] = with_raw_element(write_mg(folder / f".{reason}.src"), folder / f"{reason}.dcm", element)
        (folder / f".{reason}.src").unlink()
    made["meta_mismatch"] = meta_names_other_instance(write_mg(folder / "meta_mismatch.dcm"))
    return made


def meta_names_other_instance(path: Path) -> Path:
    """Edit the file meta's SOP Instance UID (same length) so it contradicts the data set."""
    raw = path.read_bytes()
    start = _dataset_start(raw)
    uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID).encode()
    other = uid[:-1] + (b"1" if uid[-1:] != b"1" else b"2")
    path.write_bytes(raw[:start].replace(uid, other) + raw[start:])
    return path
