"""The same EMR state on SQLite and on MariaDB gives the same version id; splits are stable as patients arrive."""

from __future__ import annotations

import shutil
from pathlib import Path

from emr_core.db import make_engine, make_session_factory
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking.linker import link_studies
from emr_core.migrate import upgrade
from emr_core.settings import Settings
from sgm_datasets.manifest import from_parquet
from sgm_datasets.store import LocalDatasetStore
from tests.conftest import _mariadb_engine
from tests.sgm_datasets.conftest import State


def _state(tmp: Path, url: str | None, corpus: Path, key: Path) -> State:
    settings = Settings(home=tmp / "sgm", database_url=url, ingest_workers=1)
    settings.root.mkdir(parents=True)
    (settings.root / "secrets").mkdir()
    shutil.copy(key, settings.root / "secrets" / "deid.key")
    (settings.root / "secrets" / "deid.key").chmod(0o600)
    engine = make_engine(settings.url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    ingest_paths(sessions, settings, [corpus / "dicom"])
    link_studies(sessions)
    state = State(settings, sessions, corpus)
    state.consolidate(state.studies()[:3])
    return state


def test_same_state_same_id_on_sqlite_and_mariadb(tmp_path: Path, dataset_corpus: Path) -> None:
    key = tmp_path / "deid.key"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    lite = _state(tmp_path / "lite", None, dataset_corpus, key).export(LocalDatasetStore(tmp_path / "s1"))
    maria_engine = _mariadb_engine()
    engine = next(maria_engine)
    try:
        url = engine.url.render_as_string(hide_password=False)
        maria = _state(tmp_path / "maria", url, dataset_corpus, key).export(LocalDatasetStore(tmp_path / "s2"))
    finally:
        maria_engine.close()
    assert lite.version == maria.version
    assert lite.manifest.equals(maria.manifest)


def test_splits_by_patient_stable_when_a_patient_is_added(state: State, local_store: LocalDatasetStore) -> None:
    studies = state.studies()
    state.consolidate(studies[:3])
    first = state.export(local_store)
    state.consolidate(studies[3:], with_finding=False)
    second = state.export(local_store)
    assert second.version != first.version and second.header["parent"] == first.version
    before = dict(zip(first.manifest["patient"], first.manifest["split"], strict=True))
    after = dict(zip(second.manifest["patient"], second.manifest["split"], strict=True))
    assert all(after[p] == s for p, s in before.items())  # nobody moved
    assert len(after) == len(before) + 1
    stored = from_parquet((local_store.root / "screening" / second.version / "manifest.parquet").read_bytes())
    assert (stored.groupby("patient")["split"].nunique() == 1).all()  # one split per patient
