"""pynetdicom event handlers of the receiver: spool each instance durably, then answer."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt

from emr_core.dicom.header import HeaderError, InstanceHeader, read_header
from emr_core.dicom.storage import instance_key
from emr_core.dimse.auditing import (
    AssociationEnded,
    AssociationRejected,
    Received,
    WorkItem,
)
from emr_core.dimse.spool import AssociationInfo, Spool, file_meta_bytes
from emr_core.objectstore import ObjectStore
from emr_core.vocabulary.dicom import (
    CANNOT_UNDERSTAND_HEADER,
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    SOP_INSTANCE_MISMATCH,
    SUCCESS,
)

log = logging.getLogger(__name__)


@dataclass
class _Open:
    """What we know of one open association."""

    info: AssociationInfo
    counts: Counter[str] = field(default_factory=Counter)
    outcome: str = "closed"
    seq: int = 0


class ReceiverState:
    """Shared by the handlers of all associations: the spool, the work queue, who is connected."""

    def __init__(self, spool: Spool, submit: Callable[[WorkItem], None], store: ObjectStore | None = None) -> None:
        self.spool = spool
        self.submit = submit
        self.store = store  # a remote object store, written before each answer
        self._open: dict[int, _Open] = {}
        self._lock = threading.Lock()

    def opened(self, assoc: Any) -> _Open:
        """Start tracking an association; the remote side is the sender (C-STORE or C-GET)."""
        remote, local = (assoc.acceptor, assoc.requestor) if assoc.is_requestor else (assoc.requestor, assoc.acceptor)
        info = AssociationInfo.new(remote.ae_title, local.ae_title, _address(remote))
        try:
            self.spool.open_association(info)
        except OSError as exc:  # disk full: each C-STORE will then answer Out of Resources
            log.error("cannot record association %s: %s", info.id, exc)
        with self._lock:
            self._open[id(assoc)] = current = _Open(info)
        return current

    def get(self, assoc: Any) -> _Open:
        with self._lock:
            current = self._open.get(id(assoc))
        return current if current is not None else self.opened(assoc)

    def mark(self, assoc: Any, outcome: str) -> None:
        """Record how an association ended (the first of released/aborted wins)."""
        with self._lock:
            current = self._open.get(id(assoc))
            if current is not None and current.outcome == "closed":
                current.outcome = outcome

    def pop(self, assoc: Any) -> _Open | None:
        with self._lock:
            return self._open.pop(id(assoc), None)

    def pop_all(self) -> list[_Open]:
        """Every association still tracked (a C-GET's, once it is over)."""
        with self._lock:
            current, self._open = list(self._open.values()), {}
        return current


def _address(side: Any) -> str:
    return f"{side.address}:{side.port}"


def handle_store(event: Any, state: ReceiverState) -> Dataset:
    """C-STORE: write file meta + the raw dataset bytes durably, check the header, answer."""
    current = state.get(event.assoc)
    request = event.request
    sop = str(request.AffectedSOPInstanceUID or "")
    current.seq += 1
    try:
        path = _spool(event, state, current, sop)
    except OSError as exc:  # disk full, permissions: the sender may retry later
        return _failed(state, current, sop, OUT_OF_RESOURCES, exc)
    except Exception as exc:
        return _failed(state, current, sop, PROCESSING_FAILURE, exc)
    return _checked(state, current, path, sop, str(request.AffectedSOPClassUID or ""))


def _answer(status: int, comment: str = "") -> Dataset:
    """The C-STORE response status, with an Error Comment (64 chars at most) on failure."""
    answer = Dataset()
    answer.Status = status
    if comment:
        answer.ErrorComment = comment[:64]
    return answer


def _failed(state: ReceiverState, current: _Open, sop: str, status: int, exc: BaseException) -> Dataset:
    """Nothing was kept: log, count, audit the failure, answer with status."""
    log.error("could not spool %s from %s: %s", sop, current.info.calling_ae, exc)
    current.counts["failed"] += 1
    state.submit(Received(None, sop, current.info, status, f"{type(exc).__name__}: {exc}"))
    return _answer(status, f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}")


def _spool(event: Any, state: ReceiverState, current: _Open, sop: str) -> Path:
    """Publish the file pynetdicom streamed to disk, or write the data set it kept in memory."""
    streamed = getattr(event.request, "_dataset_path", None)  # set in STORE_RECV_CHUNKED_DATASET mode
    if streamed is not None:
        finish = getattr(event.request._dataset_file, "finish", None)  # our PartialFile: wait for its writer
        if finish is not None:
            finish()  # raises the write error (disk full) kept while receiving
        return state.spool.publish(Path(streamed), current.info.id, current.seq, sop)
    request = event.request
    meta = file_meta_bytes(str(request.AffectedSOPClassUID), sop, str(event.context.transfer_syntax))
    return state.spool.write(current.info.id, current.seq, sop, (meta, request.DataSet.getbuffer()))


def _mismatch(header: InstanceHeader, sop_class: str, sop: str) -> tuple[int, str] | None:
    """A status and reason when the command names another SOP Class or Instance than the data set."""
    if header.sop_class_uid != sop_class:
        return DATA_SET_DOES_NOT_MATCH_SOP_CLASS, (
            f"request names SOP Class {sop_class}; the data set is {header.sop_class_uid}"
        )
    if header.sop_instance_uid != sop:
        return SOP_INSTANCE_MISMATCH, f"request names SOP Instance {sop}; the data set has {header.sop_instance_uid}"
    return None


def _checked(state: ReceiverState, current: _Open, path: Path, sop: str, sop_class: str) -> Dataset:
    """Answer from the header of the durable file; ingest quarantines a bad one with its reason."""
    header = read_header(path)
    if isinstance(header, HeaderError):
        detail = f"{header.reason}: {header.detail}"
        log.warning("refused %s from %s (%s)", sop, current.info.calling_ae, detail)
        current.counts["failed"] += 1
        state.submit(Received(path, sop, current.info, CANNOT_UNDERSTAND_HEADER, detail))
        return _answer(CANNOT_UNDERSTAND_HEADER, detail)
    refused = _mismatch(header, sop_class, sop)
    if refused is not None:
        # Its file meta (from the command) would contradict its content: keep nothing.
        status, detail = refused
        log.warning("refused %s from %s: %s", sop, current.info.calling_ae, detail)
        path.unlink(missing_ok=True)
        current.counts["failed"] += 1
        state.submit(Received(None, sop, current.info, status, detail))
        return _answer(status, detail)
    if state.store is not None:
        failed = _put_remote(state, current, path, header, sop)
        if failed is not None:
            return failed
    current.counts["stored"] += 1
    state.submit(Received(path, sop, current.info, SUCCESS))
    return _answer(SUCCESS)


def _put_remote(state: ReceiverState, current: _Open, path: Path, header: InstanceHeader, sop: str) -> Dataset | None:
    """Put the instance in the remote store; a failure answer (and nothing kept) when it is not there."""
    assert state.store is not None
    key = instance_key(header.study_uid, header.series_uid, header.sop_instance_uid)
    try:
        # Returns once S3 has answered the upload (or its completion): the object is then whole.
        # An object already under that key is kept; ingest compares it and records a conflict.
        state.store.put_file(key, path)
        return None
    except OSError as exc:  # store unreachable or refusing: the sender may retry later
        path.unlink(missing_ok=True)
        return _failed(state, current, sop, OUT_OF_RESOURCES, exc)
    except Exception as exc:
        path.unlink(missing_ok=True)
        return _failed(state, current, sop, PROCESSING_FAILURE, exc)


def handle_accepted(event: Any, state: ReceiverState) -> None:
    """Track the new association (its spool folder and durable record)."""
    current = state.opened(event.assoc)
    log.info("association %s from %s at %s", current.info.id, current.info.calling_ae, current.info.address)


def handle_rejected(event: Any, state: ReceiverState) -> None:
    """Audit a refused association as a security alert."""
    requestor = event.assoc.requestor
    log.warning("rejected association from %s at %s", requestor.ae_title, _address(requestor))
    state.submit(
        AssociationRejected(
            requestor.ae_title,
            event.assoc.acceptor.ae_title,
            _address(requestor),
            "calling AE title not allowed or too many associations",
        )
    )


def handle_ended(event: Any, state: ReceiverState, outcome: str) -> None:
    """Released or aborted: remember how it ended, to report on connection close."""
    state.mark(event.assoc, outcome)


def handle_closed(event: Any, state: ReceiverState) -> None:
    """Connection gone: hand the association summary to the worker (audit, spool cleanup)."""
    _discard_unfinished(event.assoc)
    current = state.pop(event.assoc)
    if current is not None:
        log.info("association %s ended (%s): %s", current.info.id, current.outcome, dict(current.counts))
        state.submit(AssociationEnded(current.info, current.outcome, dict(current.counts)))


def _discard_unfinished(assoc: Any) -> None:
    """Delete the partial file of a data set the connection closed in the middle of."""
    message = getattr(getattr(assoc, "dimse", None), "message", None)
    partial = getattr(message, "_data_set_file", None)
    if partial is None:
        return
    log.warning("removing a partial receive cut short by the end of the association")
    discard = getattr(partial, "discard", None)
    if discard is not None:
        discard()
    else:  # pynetdicom's own NamedTemporaryFile (in-memory mode never makes one)
        partial.close()
        Path(partial.name).unlink(missing_ok=True)


def event_handlers(state: ReceiverState) -> list[tuple[Any, ...]]:
    """The (event, handler, args) bindings of the receiver."""
    return [
        (evt.EVT_C_STORE, handle_store, [state]),
        (evt.EVT_ACCEPTED, handle_accepted, [state]),
        (evt.EVT_REJECTED, handle_rejected, [state]),
        (evt.EVT_RELEASED, handle_ended, [state, "released"]),
        (evt.EVT_ABORTED, handle_ended, [state, "aborted"]),
        (evt.EVT_CONN_CLOSE, handle_closed, [state]),
    ]
