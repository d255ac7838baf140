"""What dicognito leaves for us: table actions, private tags, options, and the de-identification markers."""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from emr_core.deid.table import TABLE_EDITION, Action, action_for

# Retain Patient Characteristics Option (PS3.15 E.3.5): kept as they are.
PATIENT_CHARACTERISTICS = frozenset(
    Tag(keyword)
    for keyword in (
        "PatientAge",
        "PatientSex",
        "PatientSize",
        "PatientWeight",
        "EthnicGroup",
        "PregnancyStatus",
        "SmokingStatus",
        "PatientSexNeutered",
        "PatientSpeciesDescription",
        "PatientSpeciesCodeSequence",
        "PatientBreedDescription",
        "PatientBreedCodeSequence",
        "PatientSizeCodeSequence",
    )
)
# Retain Longitudinal Temporal Information, Modified Dates (E.3.6): dicognito shifted these; the birth
# date is not longitudinal information and goes (the retained age carries what research needs).
TEMPORAL_VRS = frozenset(("DA", "DT", "TM"))
NOT_LONGITUDINAL = frozenset((Tag("PatientBirthDate"), Tag("PatientBirthTime")))
# Values dicognito replaced with consistent dummies: kept where the table allows a dummy.
DUMMY_VRS = frozenset(("PN", "UI", "DA", "DT"))
DICOGNITO_DUMMIES = frozenset(
    Tag(keyword)
    for keyword in (
        "AccessionNumber",
        "FillerOrderNumberImagingServiceRequest",
        "PatientID",
        "PerformedProcedureStepID",
        "PlacerOrderNumberImagingServiceRequest",
        "RequestedProcedureID",
        "ScheduledProcedureStepID",
        "StationName",
        "StudyID",
    )
)  # Not institutions or addresses: dicognito fakes them as real cities ("Hong Kong's Willow Lane Clinic"), which
# a reader may take for the true site and which can contain a patient's name; the table's own action applies.
STUDY_DESCRIPTION, SERIES_DESCRIPTION = Tag("StudyDescription"), Tag("SeriesDescription")
DUMMY_TEXT = "ANONYMIZED"
_TEXT_LIMITS = {"SH": 16, "AE": 16, "CS": 16, "LO": 64, "PN": 64, "ST": 1024, "LT": 10240, "UT": 65535, "UC": 65535}
_OTHER_DUMMIES = {"AS": "000D", "UR": "ANONYMIZED", "OB": b"\0\0", "OW": b"\0\0", "UN": b"\0\0"}
_NUMBER_DUMMIES = {"IS": "0", "DS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0}

# CID 7050 De-identification Methods.
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113105", "Clean Descriptors Option"),
)
MODALITY_WORDS = {"MG": "MAMMOGRAPHY", "CR": "RADIOGRAPHY", "DX": "RADIOGRAPHY", "US": "ULTRASOUND", "MR": "MR"}


def _empty(element: DataElement) -> None:
    element.value = Sequence() if element.VR == "SQ" else None


def _dummy(element: DataElement) -> None:
    """A value of the element's VR that carries no information (the table's D)."""
    if element.VR == "SQ":
        return  # a sequence keeps its items; they are cleaned one level down
    if element.VR in _TEXT_LIMITS:
        element.value = DUMMY_TEXT[: _TEXT_LIMITS[element.VR]]
    elif element.VR in _NUMBER_DUMMIES:
        element.value = _NUMBER_DUMMIES[element.VR]
    elif element.VR in _OTHER_DUMMIES:
        element.value = _OTHER_DUMMIES[element.VR]
    else:
        _empty(element)


def _is_dummied(element: DataElement) -> bool:
    if element.tag in NOT_LONGITUDINAL:
        return False  # dicognito shifted the birth date; a shifted birth date still dates the patient
    return element.VR in DUMMY_VRS or element.tag in DICOGNITO_DUMMIES


def _apply(element: DataElement, action: Action) -> bool:
    """Apply one table action; False means remove the element."""
    if action is Action.X:
        return False
    if action in (Action.U, Action.X_Z_U):
        return True  # UIDs were remapped during dicognito's walk (UidRemapper), nested ones included
    if _is_dummied(element):
        return True
    if action in (Action.D, Action.X_D):
        _dummy(element)
    else:  # Z, Z/D, X/Z, X/Z/D: an empty value is valid whatever the attribute's type 2 or 3
        _empty(element)
    return True


def _keep(ds: Dataset, tag: BaseTag) -> bool:
    """Decide one attribute: keep it (perhaps changed, nested items cleaned) or remove it."""
    if tag.is_private:
        return False
    action = action_for(tag)
    if action is None or tag in PATIENT_CHARACTERISTICS:
        # get_item: no value conversion for the (many) attributes the table does not name
        if ds.get_item(tag).VR == "SQ":
            for item in ds[tag].value or ():
                clean_dataset(item)
        return True
    element = ds[tag]
    if element.VR in TEMPORAL_VRS and tag not in NOT_LONGITUDINAL:
        return True
    keep = _apply(element, action)
    if keep and element.VR == "SQ":
        for item in element.value or ():
            clean_dataset(item)
    return keep


def clean_dataset(ds: Dataset) -> None:
    """Remove private tags and apply Table E.1-1 at every nesting level."""
    for tag in [tag for tag in list(ds.keys()) if not _keep(ds, tag)]:
        del ds[tag]


def _cleaned_descriptions(ds: Dataset) -> tuple[str, str]:
    """Descriptions rebuilt from coded attributes only (the Clean Descriptors option)."""
    modality = str(ds.get("Modality", "") or "")
    side = str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or "")
    view = str(ds.get("ViewPosition", "") or "")
    series = " ".join(part for part in (side, view) if part) or modality
    return MODALITY_WORDS.get(modality, modality), series


def clean_descriptors(ds: Dataset, original: dict[BaseTag, bool]) -> None:
    """Put back study and series descriptions, rebuilt from coded values, where the source had them."""
    study, series = _cleaned_descriptions(ds)
    if original.get(STUDY_DESCRIPTION):
        ds.StudyDescription = study
    if original.get(SERIES_DESCRIPTION):
        ds.SeriesDescription = series


def _method_code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def mark_deidentified(ds: Dataset, library: str) -> None:
    """PatientIdentityRemoved, the method (text and CID 7050 codes) and the modified-dates flag."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [library, f"SGM PS3.15 E.1-1 {TABLE_EDITION.split('_')[-1]}"]
    ds.DeidentificationMethodCodeSequence = Sequence(_method_code(v, m) for v, m in METHOD_CODES)
    ds.LongitudinalTemporalInformationModified = "MODIFIED"


def present(ds: Dataset, tags: Iterable[BaseTag]) -> dict[BaseTag, bool]:
    """Which of `tags` hold a value before cleaning."""
    return {tag: bool(tag in ds and ds[tag].value) for tag in tags}
