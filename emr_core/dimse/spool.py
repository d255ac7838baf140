"""The receive spool: each acknowledged instance is a durable file here until it is ingested.

Layout: <incoming>/dimse/<association id>/<seq>-<sop>.dcm, and one durable record per
association under <data>/dimse/associations/<id>.json (outside the incoming folder, so folder
ingest never mistakes it for DICOM) that lets recovery audit a file with its caller. Data sets
being received stream into <data>/dimse/partial/ (same file system: publishing is a rename).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID

from emr_core.dicom.storage import (
    TEMP_PREFIX,
    fsync_path,
    safe_component,
    store_bytes,
    store_chunks,
)

log = logging.getLogger(__name__)
PREAMBLE = b"\x00" * 128 + b"DICM"


@dataclass(frozen=True)
class AssociationInfo:
    """Who opened an association, from where, when; the id names its spool folder."""

    id: str
    calling_ae: str
    called_ae: str
    address: str
    started_at: str

    @classmethod
    def new(cls, calling_ae: str, called_ae: str, address: str) -> AssociationInfo:
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return cls(f"{started}-{uuid.uuid4().hex[:12]}", calling_ae, called_ae, address, started)


@dataclass(frozen=True)
class Leftover:
    """Spooled files found at start-up (a crash or kill), with their association if known."""

    association: AssociationInfo
    files: list[Path]


def file_meta_bytes(sop_class: str, sop_instance: str, transfer_syntax: str) -> bytes:
    """Preamble, 'DICM' and the file meta group for a dataset received on the network."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.10.1527.1")  # sgm (pydicom's root)
    meta.ImplementationVersionName = "SGM_DIMSE_1"
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return PREAMBLE + buffer.getvalue()


class Spool:
    """Durable hand-off between the network (acknowledge) and ingest (index, link, audit)."""

    def __init__(self, spool_dir: Path, state_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.associations_dir = state_dir / "associations"
        self.partial_dir = state_dir / "partial"

    def open_association(self, info: AssociationInfo) -> None:
        """Create the association's folder and its durable record."""
        (self.spool_dir / info.id).mkdir(parents=True, exist_ok=True)
        self.associations_dir.mkdir(parents=True, exist_ok=True)
        store_bytes(json.dumps(asdict(info)).encode(), self._record(info.id), overwrite=True)

    def write(self, assoc_id: str, seq: int, sop_uid: str, chunks: Iterable[bytes]) -> Path:
        """Write one instance (temp, fsync, rename, fsync folder); returns once it is durable."""
        return store_chunks(chunks, self._target(assoc_id, seq, sop_uid), overwrite=True).path

    def _target(self, assoc_id: str, seq: int, sop_uid: str) -> Path:
        # The sequence number keeps a second copy of the same SOP Instance (maybe with other
        # bytes) from colliding with the first within one association.
        return self.spool_dir / assoc_id / f"{seq:06d}-{safe_component(sop_uid)}.dcm"

    def publish(self, received: Path, assoc_id: str, seq: int, sop_uid: str) -> Path:
        """Make a file pynetdicom streamed to partial/ durable, then move it into the spool."""
        target = self._target(assoc_id, seq, sop_uid)
        fsync_path(received)  # flushes the inode's data whichever descriptor wrote it
        os.replace(received, target)
        fsync_path(target.parent)
        return target

    def clear_partial(self) -> None:
        """Remove receives cut short by a crash: never acknowledged, so never kept."""
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.partial_dir.iterdir():
            log.warning("removing partial receive %s left by an interrupted run", leftover.name)
            leftover.unlink(missing_ok=True)

    def close_association(self, assoc_id: str) -> None:
        """Forget an association once its files are ingested and its audit event written."""
        folder = self.spool_dir / assoc_id
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return  # files remain (a failed ingest): keep the record for the next start
        self._record(assoc_id).unlink(missing_ok=True)

    def leftovers(self) -> list[Leftover]:
        """Files spooled but never ingested, grouped by association, oldest first."""
        found: list[Leftover] = []
        if not self.spool_dir.is_dir():
            return found
        for folder in sorted(p for p in self.spool_dir.iterdir() if p.is_dir()):
            self._drop_temp_files(folder)
            files = sorted(p for p in folder.iterdir() if p.is_file())
            # Without its record (killed while opening) the caller is unknown but the id is not.
            info = self._load(folder.name) or AssociationInfo(folder.name, "", "", "", "")
            found.append(Leftover(info, files))
        return found

    def orphan_records(self) -> list[AssociationInfo]:
        """Association records whose spool folder is gone (killed after ingest, before audit)."""
        if not self.associations_dir.is_dir():
            return []
        infos = [self._load(p.stem) for p in sorted(self.associations_dir.glob("*.json"))]
        return [i for i in infos if i is not None and not (self.spool_dir / i.id).exists()]

    def _record(self, assoc_id: str) -> Path:
        return self.associations_dir / f"{assoc_id}.json"

    def _load(self, assoc_id: str) -> AssociationInfo | None:
        try:
            return AssociationInfo(**json.loads(self._record(assoc_id).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    @staticmethod
    def _drop_temp_files(folder: Path) -> None:
        # A temp file is a write that never finished: never acknowledged, so never kept.
        for temp in folder.glob(TEMP_PREFIX + "*"):
            log.warning("removing half-written %s left by an interrupted receive", temp)
            temp.unlink(missing_ok=True)
