"""DICOM values the platform reads and writes for mammography (PS3.3 C.8.11, CID 4014).

DIMSE status codes (PS3.7 Annex C, PS3.4 Annex B/C) are named at the end, following pynetdicom.status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Laterality(StrEnum):
    """ImageLaterality (0020,0062) / Laterality (0020,0060); B only for both breasts on one image."""

    LEFT = "L"
    RIGHT = "R"
    BOTH = "B"


BREAST_SIDES: tuple[Laterality, ...] = (Laterality.LEFT, Laterality.RIGHT)


class ViewPosition(StrEnum):
    """ViewPosition (0018,5101) values for mammography; SPECIMEN only comes from a view code."""

    CC = "CC"
    MLO = "MLO"
    ML = "ML"
    LM = "LM"
    LMO = "LMO"
    FB = "FB"
    SIO = "SIO"
    ISO = "ISO"
    XCCL = "XCCL"
    XCCM = "XCCM"
    SPECIMEN = "SPECIMEN"


# The two views of a screening exam, in the order Label Studio shows them.
SCREENING_VIEWS: tuple[ViewPosition, ...] = (ViewPosition.CC, ViewPosition.MLO)


class ViewCode(NamedTuple):
    """CID 4014 "View for Mammography": SNOMED CT (SCT) and legacy SNOMED-RT (SRT) code values."""

    sct: str
    srt: str
    meaning: str


VIEW_CODES: dict[ViewPosition, ViewCode] = {
    ViewPosition.CC: ViewCode("399162004", "R-10242", "cranio-caudal"),
    ViewPosition.MLO: ViewCode("399368009", "R-10226", "medio-lateral oblique"),
    ViewPosition.ML: ViewCode("399260004", "R-10224", "medio-lateral"),
    ViewPosition.LM: ViewCode("399352003", "R-10228", "latero-medial"),
    ViewPosition.LMO: ViewCode("399099002", "R-10230", "latero-medial oblique"),
    ViewPosition.FB: ViewCode("399196006", "R-10244", "caudo-cranial (from below)"),
    ViewPosition.SIO: ViewCode("399188001", "R-102D0", "superolateral to inferomedial oblique"),
    ViewPosition.ISO: ViewCode("441555000", "R-40AAA", "inferomedial to superolateral oblique"),
    ViewPosition.XCCL: ViewCode("399192008", "R-1024A", "cranio-caudal exaggerated laterally"),
    ViewPosition.XCCM: ViewCode("399101009", "R-1024B", "cranio-caudal exaggerated medially"),
    ViewPosition.SPECIMEN: ViewCode("127457009", "G-8310", "specimen"),
}
# Codes retired from CID 4014 that older devices still send.
DEPRECATED_VIEW_CODES: dict[str, ViewPosition] = {"Y-X1770": ViewPosition.XCCL, "Y-X1771": ViewPosition.XCCM}


class SopClass(StrEnum):
    """SOP Class UIDs of the mammography images the platform indexes (PS3.4 B.5)."""

    MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
    MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
    BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
    BREAST_PROJECTION_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.13.1.4"
    BREAST_PROJECTION_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.13.1.5"


MAMMOGRAPHY_SOP_CLASSES: frozenset[str] = frozenset(s.value for s in SopClass)


# DIMSE statuses (PS3.7 Annex C, PS3.4 Annex B/C); names follow PS3.4 and pynetdicom.status.
SUCCESS = 0x0000
# Storage Service Class (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # Error: Data Set Does Not Match SOP Class
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot Understand (0xCxxx)
COERCION_OF_DATA_ELEMENTS = 0xB000  # Warning
# This receiver's codes inside the "Cannot Understand" range:
CANNOT_UNDERSTAND_HEADER = 0xC210  # the data set cannot be indexed (quarantined with its reason)
PROCESSING_FAILURE = 0xC211  # an unexpected error in the handler (the code pynetdicom answers)
SOP_INSTANCE_MISMATCH = 0xC212  # the command's Affected SOP Instance UID is not the data set's
# Query/Retrieve (PS3.4 C.4)
PENDING = 0xFF00
PENDING_WARNING = 0xFF01  # Pending: optional keys not supported
PENDING_STATUSES = (PENDING, PENDING_WARNING)
UNABLE_TO_PROCESS = 0xC000  # Failure: Unable to Process (C-FIND/C-MOVE/C-GET)
# What a finished C-MOVE/C-GET may end with and still count as delivered
RETRIEVE_OK_STATUSES = (SUCCESS, COERCION_OF_DATA_ELEMENTS)


def hex_code(code: int) -> str:
    """The 0xNNNN spelling of a status in logs and audit details."""
    return f"0x{code:04X}"
