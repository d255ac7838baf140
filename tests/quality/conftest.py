"""Quality tests: a synthetic corpus ingested for real into a migrated SQLite database per test."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import make_engine, make_session_factory
from emr_core.dicom.ingest import IngestReport, ingest_paths
from emr_core.migrate import upgrade
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus


@pytest.fixture(scope="session")
def quality_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quality") / "corpus"
    generate_corpus(out, CorpusOptions(patients=6, seed=3, columns=64, rows=80, prior_fraction=0.5))
    return out


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating takes longer than copying)."""
    path = tmp_path_factory.mktemp("template") / "emr.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@dataclass
class Emr:
    """A data folder and its database, with helpers to ingest (possibly edited) corpus files."""

    settings: Settings
    sessions: sessionmaker[Session]
    corpus: Path
    work: Path

    def images(self) -> list[dict[str, str]]:
        with (self.corpus / "ground_truth" / "images.csv").open(encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def ingest(self, paths: list[Path]) -> IngestReport:
        return ingest_paths(self.sessions, self.settings, paths)

    def edited(self, image: dict[str, str], edit: Callable[[pydicom.Dataset], None], name: str) -> Path:
        """A copy of a corpus image with its header edited (pixels untouched)."""
        ds = pydicom.dcmread(self.corpus / image["path"])
        edit(ds)
        target = self.work / name / Path(image["path"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        return target


@pytest.fixture
def emr(tmp_path: Path, quality_corpus: Path, migrated_sqlite: Path) -> Emr:
    settings = Settings(home=tmp_path / "sgm", ingest_workers=1)
    settings.root.mkdir(parents=True)
    shutil.copy(migrated_sqlite, settings.root / "emr.db")
    (tmp_path / "work").mkdir()
    return Emr(settings, make_session_factory(make_engine(settings.url)), quality_corpus, tmp_path / "work")
