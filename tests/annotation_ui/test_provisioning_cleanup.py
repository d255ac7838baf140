"""A provisioning that fails half-way leaves no Label Studio project behind (and no campaign row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui import campaigns
from annotation_ui.readers import register_reader
from emr_core.db import session_scope
from emr_core.models_annotation import AnnotationCampaign
from emr_core.settings import Settings
from tests.support.annotation_scenario import ingest
from tests.support.lsenv import LabelStudioEnv


def _titles(env: LabelStudioEnv) -> set[str]:
    listed = env.admin.get("/api/projects", page_size=1000)
    return {p["title"] for p in (listed["results"] if isinstance(listed, dict) else listed)}


def test_failed_provisioning_removes_the_projects_it_created(
    label_studio: LabelStudioEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study_ids = ingest(session_factory, ls_settings, corpus)
    with session_scope(session_factory) as session:
        for account in label_studio.readers.values():
            register_reader(session, account)
    emails = {role: a.email for role, a in label_studio.readers.items()}

    def import_fails(*args: Any) -> None:  # Label Studio going away in the middle of the import (fault injection)
        raise ConnectionError("Label Studio stopped answering")

    monkeypatch.setattr(campaigns, "_import_blind", import_fails)
    with pytest.raises(ConnectionError):
        campaigns.provision_campaign(
            session_factory,
            ls_settings,
            label_studio.admin,
            "half-way",
            study_ids,
            (emails["reader_1"], emails["reader_2"]),
            emails["adjudicator"],
        )
    assert not {t for t in _titles(label_studio) if t.startswith("half-way")}
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AnnotationCampaign)) == 0
