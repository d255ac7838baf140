"""De-identify one data set or file: dicognito for consistent dummies, then the PS3.15 profile on top."""

from __future__ import annotations

import logging
import os
import warnings
from collections import OrderedDict
from io import BufferedReader
from pathlib import Path

from dicognito import __version__ as dicognito_version
from dicognito.anonymizer import Anonymizer
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.utils import get_expected_length

from emr_core.deid.dates import DateShifter
from emr_core.deid.pixels import DEFER_SIZE, attach_pixels, detach_pixels
from emr_core.deid.profile import (
    SERIES_DESCRIPTION,
    STUDY_DESCRIPTION,
    clean_dataset,
    clean_descriptors,
    mark_deidentified,
    present,
)
from emr_core.deid.pseudonyms import PatientKey, patient_key
from emr_core.deid.result import DeidResult
from emr_core.deid.uids import UidRemapper

LIBRARY = f"DICOGNITO {dicognito_version}"
# File meta attributes that name sending stations or carry private data.
FILE_META_DROPPED = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)


class _DicognitoKeywordNoise(logging.Filter):
    """Drop pydicom's warning when dicognito asks for "<keyword minus Date>Time" that does not exist."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "used with the 'in' operator" not in record.getMessage()


logging.getLogger("pydicom").addFilter(_DicognitoKeywordNoise())


class DeidRefusedError(Exception):
    """The object cannot be released; the message is the reason."""


def _check_releasable(ds: Dataset) -> tuple[str, str]:
    """Refuse what we cannot make safe; return (issuer, PatientID)."""
    burned_in = str(ds.get("BurnedInAnnotation", "") or "").upper()
    if burned_in != "NO":
        state = "YES" if burned_in == "YES" else "absent"
        raise DeidRefusedError(f"BurnedInAnnotation is {state}: text in the pixels may identify the patient")
    patient_id = str(ds.get("PatientID", "") or "").strip()
    if not patient_id:
        raise DeidRefusedError("no PatientID: the patient's pseudonym and date shift cannot be derived")
    if "StudyInstanceUID" not in ds or "SOPInstanceUID" not in ds:
        raise DeidRefusedError("no StudyInstanceUID or SOPInstanceUID")
    return str(ds.get("IssuerOfPatientID", "") or ""), patient_id


class Deidentifier:
    """PS3.15 basic profile with modified dates, patient characteristics and clean descriptors."""

    def __init__(self, secret: bytes, cache_size: int = 256) -> None:
        self._secret = secret
        self._cache: OrderedDict[str, Anonymizer] = OrderedDict()
        self._cache_size = cache_size

    def key_for(self, issuer: str, patient_id: str) -> PatientKey:
        return patient_key(self._secret, issuer, patient_id)

    def _anonymizer(self, key: PatientKey) -> Anonymizer:
        """One seeded dicognito per patient; our date and UID handlers go first, dicognito does the rest."""
        anonymizer = self._cache.pop(key.seed, None)
        if anonymizer is None:
            anonymizer = Anonymizer(seed=key.seed)
            # Our own shift and UIDs, first in line: they must not change when dicognito changes its formulas.
            anonymizer.add_element_handler(DateShifter(key.date_offset_days))
            anonymizer.add_element_handler(UidRemapper(key.seed))
        self._cache[key.seed] = anonymizer
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return anonymizer

    def deidentify(self, ds: Dataset) -> PatientKey:
        """De-identify `ds` in place, or raise DeidRefusedError."""
        issuer, patient_id = _check_releasable(ds)
        key = self.key_for(issuer, patient_id)
        had = present(ds, (STUDY_DESCRIPTION, SERIES_DESCRIPTION))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*used with the 'in' operator", category=UserWarning)
            self._anonymizer(key).anonymize(ds)
        clean_dataset(ds)
        for keyword in FILE_META_DROPPED:
            if keyword in ds.file_meta:
                delattr(ds.file_meta, keyword)
        # The pseudonym as the family name: a PN without "^" is the retired single-component form.
        ds.PatientID, ds.PatientName = key.pseudonym, f"{key.pseudonym}^"
        clean_descriptors(ds, had)
        mark_deidentified(ds, LIBRARY)
        return key

    def deidentify_file(self, source: Path, out_root: Path) -> DeidResult:
        """Write the de-identified copy under out_root/pseudonym/study/; never raises for one bad file."""
        try:
            # Opened before the read: the pixels are copied from this handle, checked to be the file read.
            with source.open("rb") as handle:
                return self._deidentify_open(source, handle, out_root)
        except OSError as exc:
            return DeidResult(source, None, f"not a readable DICOM file ({type(exc).__name__})")

    def _deidentify_open(self, source: Path, handle: BufferedReader, out_root: Path) -> DeidResult:
        try:
            ds = dcmread(source, defer_size=DEFER_SIZE)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            return DeidResult(source, None, f"not a readable DICOM file ({type(exc).__name__})")
        issuer, patient_id = str(ds.get("IssuerOfPatientID", "") or ""), str(ds.get("PatientID", "") or "")
        audit = {"patient_ref": f"{issuer}/{patient_id}"[:64], "study_uid": str(ds.get("StudyInstanceUID", ""))}
        try:
            pixels = detach_pixels(ds, handle)
            _check_pixels_complete(ds, pixels.length if pixels is not None else None)
            key = self.deidentify(ds)
            if pixels is not None:
                attach_pixels(ds, pixels, handle)
            output = out_root / key.pseudonym / str(ds.StudyInstanceUID) / f"{ds.SOPInstanceUID}.dcm"
            _write(ds, output)
        except DeidRefusedError as exc:
            return DeidResult(source, None, str(exc), **audit)
        except Exception as exc:
            return DeidResult(source, None, f"de-identification failed ({type(exc).__name__}: {exc})"[:300], **audit)
        return DeidResult(source, output, "", key.pseudonym, **audit)


def _check_pixels_complete(ds: Dataset, detached_length: int | None) -> None:
    """Refuse native pixel data shorter than Rows x Columns x samples x frames: a file cut off in its pixels
    would otherwise be released as a shorter, broken image."""
    transfer = ds.file_meta.get("TransferSyntaxUID")
    if transfer is None or transfer.is_compressed or (detached_length is None and "PixelData" not in ds):
        return
    try:
        expected = get_expected_length(ds, "bytes")
    except (AttributeError, KeyError, TypeError, ValueError):
        return  # no complete image pixel module to measure against: nothing to compare
    found = detached_length if detached_length is not None else len(ds.PixelData)
    if found < expected:
        raise DeidRefusedError(f"truncated pixel data: {found} of {expected} bytes")


def _write(ds: Dataset, output: Path) -> None:
    """Write via a temporary name so that a crash never leaves half a file under the final name."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.part")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    try:
        ds.save_as(partial, enforce_file_format=True)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
