"""Audit events of the C-FIND queries we send (Query, 110112): who asked which peer for what, how many answers."""

from __future__ import annotations

from pydicom.dataset import Dataset
from sqlalchemy.orm import Session, sessionmaker

from emr_core.audit import AuditRecord, record_event
from emr_core.db import session_scope
from emr_core.dimse.scu import Peer
from emr_core.enums import AuditAction, AuditEventId, AuditOutcome

# The query keys worth keeping: what was matched on, never the full identifier.
_KEYS = ("QueryRetrieveLevel", "PatientID", "PatientName", "StudyDate", "ModalitiesInStudy", "AccessionNumber")


def query_keys(query: Dataset) -> dict[str, str]:
    """The non-empty matching keys of a C-FIND identifier."""
    return {k: str(query.get(k, "")) for k in _KEYS if str(query.get(k, "") or "")}


def query_record(peer: Peer, query: Dataset, matches: int | None, problem: str = "") -> AuditRecord:
    """One C-FIND we issued: our AE as user, the peer as destination, its keys and the answer count."""
    keys = query_keys(query)
    detail: dict[str, object] = {"peer": str(peer), "keys": keys, "matches": matches}
    if problem:
        detail["problem"] = problem
    return AuditRecord(
        event_id=AuditEventId.QUERY,
        action=AuditAction.EXECUTE,
        event_type="dicom_cfind_sent",
        outcome=AuditOutcome.SUCCESS if not problem else AuditOutcome.MINOR_FAILURE,
        user_id=peer.calling_ae,
        ae_title=peer.ae_title[:16],
        network_address=peer.host[:64],
        patient_ref=keys.get("PatientID", "")[:64],
        detail=detail,
    )


def audit_query(sessions: sessionmaker[Session], record: AuditRecord) -> None:
    with session_scope(sessions) as session:
        record_event(session, record)
