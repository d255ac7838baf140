"""Receiver configuration: identity, address, callers, limits and timeouts, presentation contexts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom import uid
from pynetdicom.presentation import (
    AllStoragePresentationContexts,
    PresentationContext,
    build_context,
)
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from emr_core.objectstore import LocalObjectStore, ObjectStore, object_store
from emr_core.settings import Settings

# Everything modalities send; the receiver stores bytes as received, so no codec is needed.
ACCEPTED_TRANSFER_SYNTAXES = (
    uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
    uid.RLELossless,
)
# 0 = no limit: the sender then uses its own largest PDU (dcmtk: 128 KB), the main lever
# for throughput (bench/store.py); pynetdicom's default 16 KB is about 2x slower.
UNLIMITED_PDU = 0


def parse_callers(text: str) -> tuple[str, ...]:
    """'A, B' -> ('A', 'B'): AE titles compare without surrounding spaces."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


@dataclass(frozen=True)
class ReceiverConfig:
    """How the storage receiver presents itself and where it spools what it receives."""

    ae_title: str
    host: str
    port: int
    spool_dir: Path
    state_dir: Path
    allowed_callers: tuple[str, ...] = ()
    max_pdu: int = UNLIMITED_PDU
    max_associations: int = 16
    max_connections: int = 64
    artim_timeout: float = 30.0
    network_timeout: float = 60.0
    max_pdu_cap: int = 16 * 1024 * 1024
    listen_backlog: int = 128
    spool_retry_seconds: float = 30.0
    processes: int = 1
    fast_transport: bool = True
    stream_to_disk: bool = True
    early_writeback: bool = True
    background_writes: bool = False  # measured slower on 2 busy cores (GIL hand-offs); see bench/store.py
    # A remote object store (S3): each instance is put there before it is acknowledged, since the
    # local spool of a stateless server is not where the archive lives. None: the local folder.
    remote_store: ObjectStore | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> ReceiverConfig:
        """The receiver for this data folder, from the SGM_DICOM_* settings."""
        values: dict[str, object] = {
            "ae_title": settings.dicom_ae_title,
            "host": settings.dicom_host,
            "port": settings.dicom_port,
            "spool_dir": spool_dir(settings),
            "state_dir": state_dir(settings),
            "allowed_callers": parse_callers(settings.dicom_allowed_callers),
            "max_associations": settings.dicom_max_associations,
            "max_connections": settings.dicom_max_connections,
            "artim_timeout": settings.dicom_artim_timeout,
            "network_timeout": settings.dicom_network_timeout,
            "max_pdu_cap": settings.dicom_max_pdu_cap,
            "listen_backlog": settings.dicom_listen_backlog,
            "spool_retry_seconds": settings.dicom_spool_retry_seconds,
            "remote_store": remote_store(settings),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def remote_store(settings: Settings) -> ObjectStore | None:
    """The configured object store when it is not a local folder (which ingest fills itself)."""
    store = object_store(settings)
    return None if isinstance(store, LocalObjectStore) else store


def spool_dir(settings: Settings) -> Path:
    """Received files wait here for ingest; inside the incoming folder so nothing is missed."""
    return settings.incoming_dir / "dimse"


def state_dir(settings: Settings) -> Path:
    """The receiver's own records (associations, partial receives), outside the incoming folder."""
    return settings.root / "dimse"


def storage_contexts() -> list[PresentationContext]:
    """Verification plus every storage SOP class (mammography included), all our syntaxes."""
    contexts = [build_context(Verification)]
    for cx in AllStoragePresentationContexts:
        contexts.append(build_context(str(cx.abstract_syntax), list(ACCEPTED_TRANSFER_SYNTAXES)))
    return contexts
