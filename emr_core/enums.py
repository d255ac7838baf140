"""Enumerations mirroring DICOM attribute values and EMR states."""

from __future__ import annotations

from enum import StrEnum

# Laterality is a DICOM value: it lives in the vocabulary, re-exported for existing imports.
from emr_core.vocabulary.dicom import Laterality

__all__ = [
    "AuditAction",
    "AuditEventId",
    "AuditOutcome",
    "CampaignTaskState",
    "InferenceStatus",
    "Laterality",
    "LedgerStage",
    "LinkMethod",
    "LinkStatus",
    "QuarantineReason",
    "TaskStatus",
]


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


class TaskStatus(StrEnum):
    """A follow-up task is open until done, cancelled by a person or superseded by a newer exam."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class CampaignTaskState(StrEnum):
    """Where one breast side of an annotation campaign stands after the last consolidation."""

    PENDING = "pending"
    INVALID = "invalid"
    CONCORDANT = "concordant"
    DISCORDANT = "discordant"
    ADJUDICATED = "adjudicated"


class InferenceStatus(StrEnum):
    """Where one model version stands on one study."""

    DONE = "done"
    FAILED = "failed"


class QuarantineReason(StrEnum):
    """Why a file was quarantined (stored in a 32-character column)."""

    NOT_DICOM = "not_dicom"
    TRUNCATED = "truncated"
    MISSING_UID = "missing_uid"
    UNREADABLE = "unreadable"
    UNKNOWN_VR = "unknown_vr"
    IMPLICIT_VR_IN_EXPLICIT = "implicit_vr_in_explicit"
    FILE_META_IN_DATASET = "file_meta_in_dataset"
    META_MISMATCH = "meta_mismatch"


class QuarantineResolution(StrEnum):
    """What a person decided about a quarantined file."""

    REINGESTED = "reingested"
    DISMISSED = "dismissed"


class AuditEventId(StrEnum):
    """DICOM PS3.15 A.5 / DCM event ID codes (code value; meaning in the member name)."""

    APPLICATION_ACTIVITY = "110100"
    AUDIT_LOG_USED = "110101"
    INSTANCES_ACCESSED = "110103"
    INSTANCES_TRANSFERRED = "110104"
    EXPORT = "110106"
    IMPORT = "110107"
    PATIENT_RECORD = "110110"
    QUERY = "110112"
    SECURITY_ALERT = "110113"
    USER_AUTHENTICATION = "110114"


class AuditAction(StrEnum):
    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class AuditOutcome:
    """EventOutcomeIndicator values."""

    SUCCESS = 0
    MINOR_FAILURE = 4
    SERIOUS_FAILURE = 8
    MAJOR_FAILURE = 12
