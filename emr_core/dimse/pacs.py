"""Query/retrieve against the configured PACS: find studies and patients, pull what we lack."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Literal

from pydicom.dataset import Dataset
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dimse import scu
from emr_core.dimse.auditing import AssociationEnded, WorkItem
from emr_core.dimse.config import spool_dir, state_dir
from emr_core.dimse.handlers import ReceiverState, handle_store
from emr_core.dimse.query_audit import audit_query, query_record
from emr_core.dimse.spool import Spool
from emr_core.dimse.worker import process_items
from emr_core.linking.linker import link_studies
from emr_core.models import Instance, Series, Study
from emr_core.settings import Settings

log = logging.getLogger(__name__)
Method = Literal["move", "get"]
_STUDY_KEYS = (
    "StudyDate",
    "AccessionNumber",
    "PatientName",
    "PatientBirthDate",
    "StudyDescription",
    "NumberOfStudyRelatedInstances",
)


@dataclass(frozen=True)
class StudyQuery:
    """Study-level C-FIND keys: patient ID, a study date range, a modality in the study."""

    patient_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    modality: str = "MG"

    def identifier(self) -> Dataset:
        """The C-FIND identifier: these keys matched, the returned ones empty."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = ""
        ds.PatientID = self.patient_id
        ds.ModalitiesInStudy = self.modality
        for keyword in _STUDY_KEYS:
            setattr(ds, keyword, "")
        if self.date_from or self.date_to:
            low = self.date_from.strftime("%Y%m%d") if self.date_from else ""
            high = self.date_to.strftime("%Y%m%d") if self.date_to else ""
            ds.StudyDate = low if low == high else f"{low}-{high}"
        return ds


@dataclass(frozen=True)
class StudyMatch:
    """One study the PACS holds."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    accession_number: str = ""
    description: str = ""
    instances: int | None = None

    @classmethod
    def from_identifier(cls, ds: Dataset) -> StudyMatch:
        """A match from a C-FIND response identifier."""
        count = str(ds.get("NumberOfStudyRelatedInstances", "") or "")
        return cls(
            study_uid=str(ds.get("StudyInstanceUID", "")),
            patient_id=str(ds.get("PatientID", "")),
            patient_name=str(ds.get("PatientName", "")),
            study_date=str(ds.get("StudyDate", "")),
            accession_number=str(ds.get("AccessionNumber", "")),
            description=str(ds.get("StudyDescription", "")),
            instances=int(count) if count.isdigit() else None,
        )


@dataclass(frozen=True)
class PatientMatch:
    """One patient the PACS knows."""

    patient_id: str
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    studies: int | None = None


@dataclass
class PullReport:
    """What a pull did: studies pulled, skipped as already held, failed; instances received."""

    pulled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    instances: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.pulled)} studies pulled ({self.instances} instances), "
            f"{len(self.skipped)} already held, {len(self.failed)} failed"
        )


def held_instances(session: Session, study_uids: Sequence[str]) -> dict[str, int]:
    """How many instances of each study the index holds (absent = none)."""
    rows = session.execute(
        select(Study.study_uid, func.count(Instance.id))
        .join(Series, Series.study_id == Study.id)
        .join(Instance, Instance.series_id == Series.id)
        .where(Study.study_uid.in_(list(study_uids)))
        .group_by(Study.study_uid)
    ).all()
    return {uid: int(count) for uid, count in rows}


def is_held(match: StudyMatch, held: dict[str, int]) -> bool:
    """Held when we have as many instances as the PACS reports (or any, if it reports none)."""
    have = held.get(match.study_uid, 0)
    return have > 0 and (match.instances is None or have >= match.instances)


class PacsClient:
    """The configured PACS (SGM_PACS_*), reached as our AE title (SGM_DICOM_AE_TITLE)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.peer = scu.Peer(settings.pacs_ae_title, settings.pacs_host, settings.pacs_port, settings.dicom_ae_title)

    def echo(self) -> int:
        """C-ECHO the PACS; the status (0x0000 = success)."""
        return scu.echo(self.peer)

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """Study-level C-FIND (study root), audited."""
        return [StudyMatch.from_identifier(ds) for ds in self._find(query.identifier())]

    def _find(self, query: Dataset, patient_root: bool = False) -> list[Dataset]:
        """C-FIND, with a Query audit event whether it answers or fails."""
        try:
            matches = scu.find(self.peer, query, patient_root=patient_root)
        except scu.DimseError as exc:
            audit_query(self.sessions, query_record(self.peer, query, None, str(exc)))
            raise
        audit_query(self.sessions, query_record(self.peer, query, len(matches)))
        return matches

    def find_patients(self, patient_id: str = "", name: str = "") -> list[PatientMatch]:
        """Patient-level C-FIND (patient root) by ID and/or name (wildcards allowed)."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientID, ds.PatientName = patient_id, name
        ds.PatientBirthDate = ds.PatientSex = ds.NumberOfPatientRelatedStudies = ""
        return [
            PatientMatch(
                str(m.get("PatientID", "")),
                str(m.get("PatientName", "")),
                str(m.get("PatientBirthDate", "")),
                str(m.get("PatientSex", "")),
                _int(m.get("NumberOfPatientRelatedStudies")),
            )
            for m in self._find(ds, patient_root=True)
        ]

    def pull(
        self,
        studies: Sequence[StudyMatch],
        method: Method = "move",
        progress: Callable[[int], None] | None = None,
        wait_seconds: float = 120.0,
    ) -> PullReport:
        """Retrieve each study not already held; C-MOVE to our receiver, or C-GET in this process."""
        report = PullReport()
        with session_scope(self.sessions) as session:
            held = held_instances(session, [s.study_uid for s in studies])
        for study in studies:
            if is_held(study, held):
                report.skipped.append(study.study_uid)
                continue
            try:
                result = self._retrieve(study, method, progress, wait_seconds)
            except scu.DimseError as exc:
                report.failed[study.study_uid] = str(exc)
                continue
            if result.ok:
                report.pulled.append(study.study_uid)
            else:
                report.failed[study.study_uid] = f"status 0x{result.status:04X}, {result.failed} failed"
            report.instances += result.completed
        return report

    def _retrieve(
        self, study: StudyMatch, method: Method, progress: Callable[[int], None] | None, wait_seconds: float
    ) -> scu.RetrieveResult:
        if method == "get":
            return self._get(study, progress)
        result = scu.move_study(self.peer, study.study_uid, self.settings.dicom_ae_title, progress)
        if result.completed:
            self._wait_indexed(study.study_uid, result.completed, wait_seconds)
        return result

    def _get(self, study: StudyMatch, progress: Callable[[int], None] | None) -> scu.RetrieveResult:
        """C-GET: spool each instance as the receiver does, then ingest and audit here."""
        spool = Spool(spool_dir(self.settings), state_dir(self.settings))
        items: list[WorkItem] = []
        state = ReceiverState(spool, items.append)
        result = scu.get_study(self.peer, study.study_uid, partial(handle_store, state=state), progress)
        items.extend(AssociationEnded(done.info, "released", dict(done.counts)) for done in state.pop_all())
        if items and process_items(self.sessions, self.settings, spool, items):
            link_studies(self.sessions, only_pending=True)
        return result

    def _wait_indexed(self, study_uid: str, expected: int, wait_seconds: float) -> None:
        """C-MOVE returns when the receiver acknowledged; wait for its worker to index them."""
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            with session_scope(self.sessions) as session:
                if held_instances(session, [study_uid]).get(study_uid, 0) >= expected:
                    return
            time.sleep(0.25)
        log.warning("study %s: moved, but not all %d instances indexed after %.0f s", study_uid, expected, wait_seconds)


def _int(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None
