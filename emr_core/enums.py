"""Enumerations mirroring DICOM attribute values and EMR states."""

from __future__ import annotations

from enum import StrEnum


class Laterality(StrEnum):
    LEFT = "L"
    RIGHT = "R"
    BOTH = "B"


class LedgerStage(StrEnum):
    """Steps a study passes through on its way to training data."""

    RECEIVED = "received"
    LINKED = "linked"
    RENDERED = "rendered"
    ANNOTATED = "annotated"
    EXPORTED = "exported"


class LinkMethod(StrEnum):
    IDENTIFIER = "identifier"
    ACCESSION = "accession"
    DEMOGRAPHICS = "demographics"
    PROVISIONAL = "provisional"
    MANUAL = "manual"


class LinkStatus(StrEnum):
    """AUTO links were made by rules; REVIEW waits for a person; MANUAL came from a person."""

    AUTO = "auto"
    REVIEW = "review"
    MANUAL = "manual"


class QuarantineReason(StrEnum):
    NOT_DICOM = "not_dicom"
    TRUNCATED = "truncated"
    MISSING_UID = "missing_uid"
    UNREADABLE = "unreadable"
