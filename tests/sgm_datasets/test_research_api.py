"""Read-only research endpoints for dataset versions: researcher role only, audited, 404 for unknown versions."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import select

from emr_core.db import session_scope
from emr_core.models import AuditEvent
from sgm_datasets.store import LocalDatasetStore
from tests.sgm_app.api.conftest import Api
from tests.sgm_datasets.conftest import State


def test_researcher_lists_reads_and_downloads_a_version(api: Api, state: State) -> None:
    state.consolidate(state.studies()[:1])
    version = state.export(LocalDatasetStore(state.settings.root / "datasets")).version
    listed = api.get("researcher", "/research/datasets")
    assert listed.status_code == 200 and listed.json()["versions"][0]["version"] == version
    header = api.get("researcher", f"/research/datasets/screening/{version[:10]}")
    assert header.status_code == 200 and header.json()["version"] == version
    manifest = api.get("researcher", f"/research/datasets/screening/{version}/manifest")
    assert manifest.status_code == 200
    assert len(pd.read_parquet(io.BytesIO(manifest.content))) == 4
    assert api.get("clinician", "/research/datasets").status_code == 403
    assert api.get("researcher", "/research/datasets/screening/abcdef12").status_code == 404
    assert api.get("researcher", "/research/datasets/..%2Fx/latest").status_code in (404, 422)
    assert api.client.post("/research/datasets", headers=api.as_("researcher")).status_code == 405
    with session_scope(state.sessions) as session:
        exported = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "dataset.manifest")).all()
        assert [(e.user_id, e.detail["version"]) for e in exported] == [("researcher", version)]
