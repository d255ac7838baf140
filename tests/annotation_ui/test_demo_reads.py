"""`make run`'s SIMULATED demo reads against a real Label Studio: each reader with their own token, a stable
share of disagreements that go to adjudication, the adjudicator's reads, all accepted by consolidation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.campaigns import provision_campaign
from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.demo_reads import DemoReadsError, load_ground_truth, submit_demo_reads
from annotation_ui.preannotations import push_predictions
from annotation_ui.readers import register_reader
from emr_core.db import session_scope
from emr_core.enums import CampaignTaskState
from emr_core.models import AuditEvent
from emr_core.models_annotation import AnnotationRevision, ConsolidatedFinding
from emr_core.settings import Settings
from sgm_models.feedback_db import model_feedback
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.annotation_ui.test_preannotations import store_predictions
from tests.support.annotation_scenario import ingest
from tests.support.lsenv import LabelStudioEnv

SIDES = 16


@pytest.fixture
def campaign(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> str:
    study_ids = ingest(session_factory, ls_settings, corpus)
    with session_scope(session_factory) as session:
        for account in label_studio.readers.values():
            register_reader(session, account)
    emails = {role: a.email for role, a in label_studio.readers.items()}
    pair = (emails["reader_1"], emails["reader_2"])
    provision_campaign(session_factory, ls_settings, label_studio.admin, "demo", study_ids, pair, emails["adjudicator"])
    return "demo"


def _tokens(env: LabelStudioEnv) -> dict[str, str]:
    return {a.email: a.token for a in env.readers.values()}


def test_demo_reads_reach_agreement_through_adjudication(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], corpus: Path, campaign: str
) -> None:
    truth, admin, tokens = load_ground_truth(corpus / "ground_truth"), label_studio.admin, _tokens(label_studio)
    first = submit_demo_reads(session_factory, admin, campaign, truth, tokens, 0.3, by="test")
    assert first.submitted == {"reader_1": SIDES, "reader_2": SIDES, "adjudicator": 0}
    assert 0 < first.disagreements < SIDES and first.without_truth == 0

    decided = consolidate_campaign(session_factory, admin, campaign)
    assert decided.revisions_rejected == 0  # valid against the schema
    assert decided.states.get(CampaignTaskState.DISCORDANT.value) == first.disagreements
    assert decided.queued_for_adjudication == first.disagreements

    second = submit_demo_reads(session_factory, admin, campaign, truth, tokens, 0.3, by="test")
    assert second.submitted == {"reader_1": 0, "reader_2": 0, "adjudicator": first.disagreements}
    assert second.already_read == 2 * SIDES

    final = consolidate_campaign(session_factory, admin, campaign)
    assert final.revisions_rejected == 0 and final.violations_new == 0
    assert final.states == {
        CampaignTaskState.CONCORDANT.value: SIDES - first.disagreements,
        CampaignTaskState.ADJUDICATED.value: first.disagreements,
    }
    with session_scope(session_factory) as session:
        findings = session.scalar(select(func.count()).select_from(ConsolidatedFinding))
        revisions = session.scalar(select(func.count()).select_from(AnnotationRevision))
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "annotation.simulated_demo_reads")
        ).all()
    assert findings == sum(len(side.findings) for side in truth.values())  # every true finding, once
    assert revisions == 2 * SIDES + first.disagreements
    assert len(audited) == 6 and all(e.detail["simulated"] is True for e in audited)

    third = submit_demo_reads(session_factory, admin, campaign, truth, tokens, 0.3)
    assert sum(third.submitted.values()) == 0  # idempotent


def test_a_token_of_another_reader_is_refused(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], corpus: Path, campaign: str
) -> None:
    tokens = _tokens(label_studio)
    r1, r2 = (label_studio.readers[r].email for r in ("reader_1", "reader_2"))
    tokens[r1] = tokens[r2]
    truth = load_ground_truth(corpus / "ground_truth")
    with pytest.raises(DemoReadsError, match=f"the token given for {r1} belongs to another"):
        submit_demo_reads(session_factory, label_studio.admin, campaign, truth, tokens)
    with pytest.raises(DemoReadsError, match="not found"):
        load_ground_truth(corpus)


def test_demo_ai_reads_are_final_and_reviewed_by_the_feedback(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    """`make run`'s model loop on an AI-assisted campaign, through the functions its `sgm` commands call:
    predictions pushed (`campaign predict`), simulated reads (`demo reads`), `campaign consolidate`, then the
    feedback (`model feedback`) reviews every read."""
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "demo-ai", "ai_assisted")
    store_predictions(session_factory, campaign_id, ("baseline", "3"))  # one box on every image
    with session_scope(session_factory) as session:
        assert push_predictions(session, label_studio.admin, "demo-ai", "baseline", "3").created == SIDES
    truth, tokens = load_ground_truth(corpus / "ground_truth"), _tokens(label_studio)
    read = submit_demo_reads(session_factory, label_studio.admin, "demo-ai", truth, tokens, by="test")
    assert read.submitted == {"reader_1": SIDES} and read.disagreements == 0

    decided = consolidate_campaign(session_factory, label_studio.admin, "demo-ai")
    assert decided.states == {CampaignTaskState.READ.value: SIDES}
    with session_scope(session_factory) as session:
        feedback = model_feedback(session, "baseline", "3")
    review = feedback.review
    assert review.reads == SIDES and review.shown == 2 * SIDES  # every read, every box shown to it
    assert review.accepted + review.edited + review.rejected == review.shown
    assert feedback.metrics()["reviewed_reads"] == SIDES
