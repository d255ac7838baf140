"""Enumerations mirroring DICOM attribute values and EMR states."""

from __future__ import annotations

from enum import StrEnum

# Laterality is a DICOM value: it lives in the vocabulary, re-exported for existing imports.
from emr_core.vocabulary.dicom import Laterality

__all__ = [
    "FINAL_TASK_STATES",
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
    "ReadSource",
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
    """Where one breast side of an annotation campaign stands after the last consolidation (16 characters at most:
    the column is a plain string, so a new state needs no migration)."""

    PENDING = "pending"  # a read the scheme needs is missing
    INVALID = "invalid"  # a read the scheme needs breaks the BI-RADS schema
    CONCORDANT = "concordant"  # blind double reading: the two blind reads agree
    DISCORDANT = "discordant"  # two reads disagree: blind, until adjudicated; open consensus, until they agree
    ADJUDICATED = "adjudicated"  # blind double reading: the adjudicator's read decides
    READ = "read"  # single and AI-assisted reading: the one reader's read is final
    UNDER_REVIEW = "under_review"  # senior review: the first read is in, the senior has not read the side yet
    REVIEWED = "reviewed"  # senior review: the senior's read is final
    CONSENSUS = "consensus"  # open consensus: the two readers agree


# The states with a consolidated read: the side's reading is done.
FINAL_TASK_STATES = frozenset(
    {
        CampaignTaskState.CONCORDANT,
        CampaignTaskState.ADJUDICATED,
        CampaignTaskState.READ,
        CampaignTaskState.REVIEWED,
        CampaignTaskState.CONSENSUS,
    }
)


class ReadSource(StrEnum):
    """How a consolidated read came about (ConsolidatedRead.source, ConsolidatedFinding.source; 16 characters at
    most). One-reader reads name their scheme, so reads made while seeing the model's boxes stay apart."""

    CONCORDANT = "concordant"  # mean of two agreeing blind reads
    ADJUDICATED = "adjudicated"  # the adjudicator's read
    SINGLE = "single"  # the one reader's read
    AI_ASSISTED = "ai_assisted"  # the one reader's read, made with the model's boxes shown
    REVIEWED = "reviewed"  # the senior's read of a first read
    CONSENSUS = "consensus"  # mean of two agreeing open reads


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
