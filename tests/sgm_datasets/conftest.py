"""Dataset tests: a small synthetic corpus ingested, linked and consolidated for real on SQLite and MariaDB."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.deid import load_or_create_key
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.models import Instance, Series, Study
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedFinding, ConsolidatedRead
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_datasets.export import ExportRequest, ExportResult, export_version
from sgm_datasets.store import DatasetStore, LocalDatasetStore
from tests.sgm_app.api.conftest import api  # noqa: F401 - the API fixture, for the research endpoint tests

PATIENTS = 4


@pytest.fixture(scope="session")
def dataset_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("datasets") / "corpus"
    generate_corpus(out, CorpusOptions(patients=PATIENTS, seed=11, columns=64, rows=80, prior_fraction=0.0))
    return out


@dataclass
class State:
    """The EMR of one test, with helpers to consolidate exams and export versions."""

    settings: Settings
    sessions: sessionmaker[Session]
    corpus: Path

    @property
    def secret(self) -> bytes:
        return load_or_create_key(self.settings.root / "secrets" / "deid.key")

    def studies(self) -> list[Study]:
        with session_scope(self.sessions) as session:
            found = list(session.scalars(select(Study).order_by(Study.dicom_patient_id, Study.study_uid)))
            session.expunge_all()
            return found

    def consolidate(self, studies: list[Study], with_finding: bool = True) -> None:
        """A concordant read on both sides of each study; a mass on the first study's left breast."""
        with session_scope(self.sessions) as session:
            campaign = session.scalar(select(AnnotationCampaign).where(AnnotationCampaign.name == "c"))
            if campaign is None:
                campaign = AnnotationCampaign(name="c")
                session.add(campaign)
                session.flush()
            for k, study in enumerate(studies):
                images = {
                    (i.laterality, i.view): i
                    for i in session.scalars(select(Instance).join(Series).where(Series.study_id == study.id))
                }
                for side in "LR":
                    cc, mlo = images[(side, "CC")], images[(side, "MLO")]
                    task = CampaignTask(
                        campaign_id=campaign.id,
                        study_id=study.id,
                        laterality=side,
                        cc_instance_id=cc.id,
                        mlo_instance_id=mlo.id,
                    )
                    session.add(task)
                    session.flush()
                    session.add(
                        ConsolidatedRead(
                            campaign_task_id=task.id,
                            composition="b",
                            assessment="4B" if (k == 0 and side == "L" and with_finding) else "1",
                            source="concordant",
                            revision_ids=[],
                        )
                    )
                    if k == 0 and side == "L" and with_finding:
                        session.add(_mass(task, cc, mlo, study.id))

    def export(self, store: DatasetStore, name: str = "screening", **kwargs: object) -> ExportResult:
        request = ExportRequest(name=name, secret=self.secret, data_root=self.settings.root, user="alice", **kwargs)  # type: ignore[arg-type]
        with session_scope(self.sessions) as session:
            return export_version(session, store, request)


def _mass(task: CampaignTask, cc: Instance, mlo: Instance, study_id: int) -> ConsolidatedFinding:
    box = {
        f"{v}_{e}": x
        for v in ("cc", "mlo")
        for e, x in zip(("xmin", "ymin", "xmax", "ymax"), (5, 6, 30, 40), strict=True)
    }
    return ConsolidatedFinding(
        finding_uid=f"F-{task.id}",
        campaign_task_id=task.id,
        study_id=study_id,
        laterality=task.laterality,
        finding_type="mass",
        birads="4B",
        attributes={"mass_shape": "oval"},
        cc_instance_id=cc.id,
        mlo_instance_id=mlo.id,
        source="concordant",
        **box,
    )


@pytest.fixture
def state(settings: Settings, session_factory: sessionmaker[Session], dataset_corpus: Path) -> State:
    settings = Settings(home=settings.home, database_url=settings.database_url, ingest_workers=1)
    settings.root.mkdir(parents=True, exist_ok=True)
    ingest_paths(session_factory, settings, [dataset_corpus / "dicom"])
    link_studies(session_factory)
    return State(settings, session_factory, dataset_corpus)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalDatasetStore:
    return LocalDatasetStore(tmp_path / "store")
