"""The linking suite: studies may wait unlinked or for review only SGM_LINK_REVIEW_MAX_DAYS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from emr_core.db import session_scope
from emr_core.linking.linker import link_studies
from emr_core.linking.registry import import_registry
from emr_core.models import LinkDecision, Study, utcnow
from emr_core.settings import ConfigError, load_settings
from quality.gates import check_linking
from tests.quality.conftest import Emr


def test_setting_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGM_LINK_REVIEW_MAX_DAYS", "3")
    assert load_settings().link_review_max_days == 3
    monkeypatch.setenv("SGM_LINK_REVIEW_MAX_DAYS", "-1")
    with pytest.raises(ConfigError, match="SGM_LINK_REVIEW_MAX_DAYS"):
        load_settings()


def test_unlinked_studies_fail_once_they_wait_too_long(emr: Emr) -> None:
    emr.ingest([emr.corpus / "dicom"])
    with session_scope(emr.sessions) as session:
        fresh = check_linking(session, max_days=7)
        late = check_linking(session, max_days=7, now=utcnow() + timedelta(days=8))
    assert fresh.success and fresh.rows == 9 and fresh.report["studies_by_state"] == {"unlinked": 9}
    assert not late.success and late.blocks_export
    rule = next(r for r in late.rules if not r.success)
    assert rule.failing_count == 9 and len(rule.examples) == 5
    assert {row["link_state"] for row in rule.examples} == {"unlinked"}


def test_old_review_item_fails_and_linked_studies_pass(emr: Emr) -> None:
    emr.ingest([emr.corpus / "dicom"])
    with session_scope(emr.sessions) as session:
        import_registry(session, emr.corpus / "registry.csv")
    link_studies(emr.sessions)
    with session_scope(emr.sessions) as session:
        assert check_linking(session, max_days=7).success
        study = session.scalars(select(Study).order_by(Study.id)).first()
        assert study is not None
        session.execute(
            update(LinkDecision)
            .where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
            .values(status="review", decided_at=utcnow() - timedelta(days=10))
        )
    with session_scope(emr.sessions) as session:
        result = check_linking(session, max_days=7)
    rule = next(r for r in result.rules if not r.success)
    assert rule.failing_count == 1
    assert rule.examples[0]["study_uid"] == study.study_uid and rule.examples[0]["link_state"] == "review"
    with session_scope(emr.sessions) as session:
        assert check_linking(session, max_days=11).success
