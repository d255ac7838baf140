"""The audit event of one ingest batch: DICOM Import (110107) with counts and where the files came from."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from emr_core.audit import AuditRecord
from emr_core.dicom.index import BatchOutcome, FileResult
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome

MAX_LISTED = 20  # UIDs and sources named in one event; the counts cover the rest


@dataclass(frozen=True)
class IngestAudit:
    """Who ingests (the CLI user, a Dagster run) from which folders or files."""

    actor: str
    sources: tuple[str, ...]
    channel: str = "folder"  # folder (sgm ingest), sensor (the incoming folder via Dagster)

    @classmethod
    def of(cls, actor: str, paths: Sequence[str | os.PathLike[str]], channel: str = "folder") -> IngestAudit:
        return cls(actor, tuple(os.fspath(p) for p in paths), channel)


def batch_record(
    audit: IngestAudit, batch_number: int, batch: Sequence[FileResult], outcome: BatchOutcome
) -> AuditRecord:
    """One event per committed batch, in the batch's own transaction: indexed and audited together."""
    counts = {k: v for k, v in sorted(outcome.counts.items()) if v}
    failed = counts.get("failed", 0) + counts.get("quarantined", 0)
    return AuditRecord(
        event_id=AuditEventId.IMPORT,
        action=AuditAction.CREATE,
        event_type=f"dicom_{audit.channel}_ingest",
        outcome=AuditOutcome.SUCCESS if not failed else AuditOutcome.MINOR_FAILURE,
        user_id=audit.actor[:128],
        network_address="local",
        study_uid=outcome.new_study_uids[0] if len(outcome.new_study_uids) == 1 else "",
        instance_count=counts.get("stored", 0),
        detail={
            "channel": audit.channel,
            "sources": list(audit.sources[:MAX_LISTED]),
            "source_count": len(audit.sources),
            "batch": batch_number,
            "files": len(batch),
            "counts": counts,
            "new_studies": len(outcome.new_study_uids),
            "new_study_uids": outcome.new_study_uids[:MAX_LISTED],
        },
    )
