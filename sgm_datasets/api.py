"""The researcher's Python API: `load_dataset(name, version)` -> (manifest DataFrame, local root)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pandas as pd

from emr_core.settings import Settings, load_settings
from sgm_datasets.manifest import from_parquet
from sgm_datasets.pull import pull_version, resolve
from sgm_datasets.site import site_store
from sgm_datasets.store import HEADER, LocalDatasetStore


def load_dataset(name: str, version: str = "latest", settings: Settings | None = None) -> tuple[pd.DataFrame, Path]:
    """The manifest and the folder its relative paths start from; a remote version is pulled (and verified) once."""
    settings = settings or load_settings()
    store = site_store(settings)
    version = resolve(store, name, version)
    if isinstance(store, LocalDatasetStore):
        root = store.root / name / version
    else:
        root = settings.root / "cache" / "datasets" / name / version
        if not (root / HEADER).is_file():
            _pull_audited(settings, store, name, version, root)
    return from_parquet((root / "manifest.parquet").read_bytes()), root


def _pull_audited(settings: Settings, store: object, name: str, version: str, root: Path) -> None:
    from emr_core.db import make_engine, make_session_factory, session_scope
    from sgm_datasets.audit import record_dataset_event

    report = pull_version(store, name, version, root)  # type: ignore[arg-type]
    with session_scope(make_session_factory(make_engine(settings.url))) as session:
        record_dataset_event(session, "pull", getpass.getuser(), name, version, report.files, str(root), role="python")
