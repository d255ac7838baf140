"""De-identification per DICOM PS3.15 Annex E (basic profile; modified dates, patient characteristics,
clean descriptors), built on dicognito and the standard's Table E.1-1 as shipped by dicom-anonymizer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emr_core.deid.batch import DeidWorkers, deidentify_files, find_files
from emr_core.deid.pseudonyms import PatientKey, patient_key
from emr_core.deid.result import DeidResult
from emr_core.deid.secret import DeidKeyError, load_or_create_key
from emr_core.settings import Settings

if TYPE_CHECKING:
    from emr_core.deid.deidentifier import Deidentifier, DeidRefusedError

# The DICOM stack (pydicom, dicognito, the E.1-1 table) loads on first use of these: `sgm deidentify`
# starts its workers, which load it in parallel, before its own process needs any of it.
_DICOM_STACK = ("Deidentifier", "DeidRefusedError")


def __getattr__(name: str) -> object:
    if name in _DICOM_STACK:
        from emr_core.deid import deidentifier

        return getattr(deidentifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def key_path(settings: Settings) -> Path:
    """The site secret's file: SGM_DEID_KEY_FILE, else secrets/deid.key in the data folder."""
    return (settings.deid_key_file or settings.root / "secrets" / "deid.key").expanduser()


def site_deidentifier(settings: Settings) -> Deidentifier:
    """A Deidentifier with the site's secret (created on first use)."""
    from emr_core.deid.deidentifier import Deidentifier

    return Deidentifier(load_or_create_key(key_path(settings)))


__all__ = [
    "DeidKeyError",
    "DeidRefusedError",
    "DeidResult",
    "DeidWorkers",
    "Deidentifier",
    "PatientKey",
    "deidentify_files",
    "find_files",
    "key_path",
    "load_or_create_key",
    "patient_key",
    "site_deidentifier",
]
