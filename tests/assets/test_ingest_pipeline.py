"""The Dagster assets ingest a synthetic corpus from the incoming folder and link its studies."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine

from assets import ingest, linking
from emr_core.db import make_session_factory, session_scope
from emr_core.linking.registry import import_registry
from emr_core.settings import Settings
from emr_core.status import platform_status
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from tests.support.resources import dagster_resources


def _materialize(settings: Settings) -> dg.ExecuteInProcessResult:
    resources = dagster_resources(settings)
    return dg.materialize(
        [*dg.load_assets_from_modules([ingest, linking])],
        resources={"emr_db": resources["emr_db"], "dicom_storage": resources["dicom_storage"]},
    )


def test_corpus_dropped_in_incoming_ends_up_indexed_and_linked(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    corpus = tmp_path / "corpus"
    summary = generate_corpus(corpus, CorpusOptions(patients=6, seed=3, columns=64, rows=80, prior_fraction=0.5))
    with session_scope(make_session_factory(engine)) as session:
        import_registry(session, corpus / "registry.csv")
    shutil.copytree(corpus / "dicom", settings.incoming_dir)

    result = _materialize(settings)
    assert result.success
    stored = result.asset_materializations_for_node("dicom_instances")[0].metadata
    assert stored["stored"].value == summary.images
    assert not any(settings.incoming_dir.rglob("*.dcm")), "ingested files leave the incoming folder"

    with session_scope(make_session_factory(engine)) as session:
        status = platform_status(session)
    assert status.instances == summary.images
    assert status.studies == summary.studies
    assert status.unlinked_studies == status.review_queue

    again = _materialize(settings)
    assert again.asset_materializations_for_node("dicom_instances")[0].metadata["stored"].value == 0
