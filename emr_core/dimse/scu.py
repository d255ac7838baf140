"""DIMSE client primitives: C-ECHO, C-FIND (patient and study level), C-MOVE and C-GET."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from emr_core.dimse.config import ACCEPTED_TRANSFER_SYNTAXES, UNLIMITED_PDU
from emr_core.vocabulary.dicom import PENDING_STATUSES as PENDING
from emr_core.vocabulary.dicom import RETRIEVE_OK_STATUSES, SUCCESS, UNABLE_TO_PROCESS, hex_code

# pynetdicom allows 128 proposed contexts; C-GET needs one per storage class it may receive.
GET_STORAGE_CLASSES = [cx.abstract_syntax for cx in StoragePresentationContexts][:120]


class DimseError(RuntimeError):
    """The peer could not be reached, refused the association, or failed the request."""


@dataclass(frozen=True)
class Peer:
    """A remote application entity, and the AE title we present to it."""

    ae_title: str
    host: str
    port: int
    calling_ae: str

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass(frozen=True)
class RetrieveResult:
    """Final sub-operation counts of a C-MOVE or C-GET."""

    status: int
    completed: int
    failed: int
    warning: int

    @property
    def ok(self) -> bool:
        return self.status in RETRIEVE_OK_STATUSES and self.failed == 0


@contextmanager
def associate(
    peer: Peer,
    contexts: list[Any],
    roles: list[Any] | None = None,
    handlers: list[Any] | None = None,
    timeout: float = 30.0,
) -> Iterator[Any]:
    """An established association to peer, released on exit; DimseError if refused."""
    ae = AE(peer.calling_ae)
    ae.maximum_pdu_size = UNLIMITED_PDU
    ae.acse_timeout = ae.network_timeout = timeout
    ae.dimse_timeout = max(timeout, 600.0)  # a large study may take minutes to move
    for context in contexts:  # an abstract syntax, or (abstract syntax, transfer syntaxes)
        if isinstance(context, tuple):
            ae.add_requested_context(*context)
        else:
            ae.add_requested_context(context)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, ext_neg=roles, evt_handlers=handlers)
    if not assoc.is_established:
        raise DimseError(f"association with {peer} refused or unreachable")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def echo(peer: Peer) -> int:
    """C-ECHO; returns the status (0x0000 = success)."""
    with associate(peer, [Verification]) as assoc:
        response = assoc.send_c_echo()
    return _status(response, peer)


def find(peer: Peer, query: Dataset, patient_root: bool = False) -> list[Dataset]:
    """C-FIND at query.QueryRetrieveLevel; every match identifier, in the order received."""
    model = PatientRootQueryRetrieveInformationModelFind if patient_root else StudyRootQueryRetrieveInformationModelFind
    matches: list[Dataset] = []
    with associate(peer, [model]) as assoc:
        for status, identifier in assoc.send_c_find(query, model):
            code = _status(status, peer)
            if code in PENDING and identifier is not None:
                matches.append(identifier)
            elif code not in PENDING and code != SUCCESS:
                raise DimseError(f"C-FIND at {peer} failed with status {hex_code(code)}")
    return matches


def move_study(
    peer: Peer, study_uid: str, destination: str, progress: Callable[[int], None] | None = None
) -> RetrieveResult:
    """C-MOVE one study to the destination AE title (which the peer must know)."""
    model = StudyRootQueryRetrieveInformationModelMove
    with associate(peer, [model]) as assoc:
        responses = assoc.send_c_move(_study_identifier(study_uid), destination, model)
        return _follow(responses, peer, progress)


def get_study(
    peer: Peer, study_uid: str, on_store: Callable[[Any], int | Dataset], progress: Callable[[int], None] | None = None
) -> RetrieveResult:
    """C-GET one study; each instance arrives on this association through on_store(event)."""
    model = StudyRootQueryRetrieveInformationModelGet
    syntaxes = list(ACCEPTED_TRANSFER_SYNTAXES)
    contexts: list[Any] = [model] + [(uid, syntaxes) for uid in GET_STORAGE_CLASSES]
    roles = [build_role(str(uid), scp_role=True) for uid in GET_STORAGE_CLASSES]
    handlers = [(evt.EVT_C_STORE, on_store)]
    with associate(peer, contexts, roles, handlers) as assoc:
        responses = assoc.send_c_get(_study_identifier(study_uid), model)
        return _follow(responses, peer, progress)


def _study_identifier(study_uid: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def _follow(responses: Any, peer: Peer, progress: Callable[[int], None] | None) -> RetrieveResult:
    """Read C-MOVE/C-GET responses to the final one, reporting completed sub-operations."""
    done, last = 0, Dataset()
    for status, _identifier in responses:
        code = _status(status, peer)
        last = status
        completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
        if progress is not None and completed > done:
            progress(completed - done)
            done = completed
        if code not in PENDING:
            break
    return RetrieveResult(
        status=int(last.get("Status", UNABLE_TO_PROCESS)),
        completed=int(last.get("NumberOfCompletedSuboperations", 0) or 0),
        failed=int(last.get("NumberOfFailedSuboperations", 0) or 0),
        warning=int(last.get("NumberOfWarningSuboperations", 0) or 0),
    )


def _status(status: Dataset | None, peer: Peer) -> int:
    # An empty status means the association was aborted or the peer timed out.
    if status is None or "Status" not in status:
        raise DimseError(f"no response from {peer} (association aborted or timed out)")
    return int(status.Status)
