"""Consolidation under every reading scheme against a real Label Studio: which reads are final, the states a
side passes through, the stored reads and findings, the ANNOTATED ledger and the audit event."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.adjudication import adjudication_queue
from annotation_ui.consolidation import consolidate_campaign
from annotation_ui.decisions import DECIDERS
from annotation_ui.demo_reads import other_composition
from annotation_ui.review import queue_reviews
from annotation_ui.schemes import SCHEMES
from emr_core.db import session_scope
from emr_core.enums import LedgerStage
from emr_core.models import AuditEvent, LedgerEntry
from emr_core.models_annotation import AnnotationCampaign, CampaignTask, ConsolidatedFinding, ConsolidatedRead
from emr_core.settings import Settings
from tests.annotation_ui.scheme_setup import provision_scheme
from tests.support.annotation_scenario import LsTask, ground_truth, read_result, reader_tasks
from tests.support.lsenv import LabelStudioEnv


def test_every_scheme_has_a_decision() -> None:
    assert set(DECIDERS) == set(SCHEMES)


def _tasks(factory: sessionmaker[Session], campaign_id: int, role: str, corpus: Path) -> list[LsTask]:
    with session_scope(factory) as session:
        return reader_tasks(session, role, campaign_id, ground_truth(corpus))


def _stored(factory: sessionmaker[Session]) -> tuple[dict[int, ConsolidatedRead], int, set[int]]:
    """Consolidated reads by campaign task, the number of findings, and the studies the ledger marks annotated."""
    with session_scope(factory) as session:
        reads = {r.campaign_task_id: r for r in session.scalars(select(ConsolidatedRead))}
        findings = len(session.scalars(select(ConsolidatedFinding.id)).all())
        annotated = set(session.scalars(select(LedgerEntry.study_id).where(LedgerEntry.stage == LedgerStage.ANNOTATED)))
        session.expunge_all()
    return reads, findings, annotated


def _studies(factory: sessionmaker[Session], task_ids: set[int]) -> set[int]:
    with session_scope(factory) as session:
        return set(session.scalars(select(CampaignTask.study_id).where(CampaignTask.id.in_(task_ids))))


def _last_audit(factory: sessionmaker[Session]) -> tuple[str, dict]:
    with session_scope(factory) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        return event.event_type, dict(event.detail or {})


@pytest.mark.parametrize("scheme", ["single", "ai_assisted"])
def test_the_one_readers_valid_read_is_final(
    label_studio: LabelStudioEnv,
    session_factory: sessionmaker[Session],
    ls_settings: Settings,
    corpus: Path,
    scheme: str,
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, scheme, scheme)
    *read, unread = _tasks(session_factory, campaign_id, "reader_1", corpus)
    for t in read:
        label_studio.reader("reader_1").create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))

    report = consolidate_campaign(session_factory, label_studio.admin, scheme)
    assert report.states == {"read": 15, "pending": 1} and report.queued_for_adjudication == 0
    reads, findings, annotated = _stored(session_factory)
    assert set(reads) == {t.campaign_task_id for t in read}
    assert {r.source for r in reads.values()} == {scheme}  # AI-assisted reads stay apart from unassisted ones
    assert all(len(r.revision_ids or []) == 1 for r in reads.values())
    assert findings == report.findings == sum(len(t.gt.findings) for t in read)
    assert {(r.composition, r.assessment) for r in reads.values()} == {
        (t.gt.composition, t.gt.assessment) for t in read
    }
    # the study of the unread side is not annotated yet; every other one is
    everything = _studies(session_factory, {t.campaign_task_id for t in (*read, unread)})
    assert annotated == everything - _studies(session_factory, {unread.campaign_task_id})
    event, detail = _last_audit(session_factory)
    assert event == "annotation.consolidated" and detail["states"] == {"read": 15, "pending": 1}

    label_studio.reader("reader_1").create_annotation(unread.ls_task_id, read_result(unread.gt, unread.mappings))
    final = consolidate_campaign(session_factory, label_studio.admin, scheme)
    assert final.states == {"read": 16}
    assert _stored(session_factory)[2] == everything


def test_senior_review_the_seniors_read_is_final(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "senior", "senior_review")
    first, second, *_ = _tasks(session_factory, campaign_id, "reader_1", corpus)
    for t in (first, second):
        label_studio.reader("reader_1").create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))
    with session_scope(session_factory) as session:
        campaign = session.get_one(AnnotationCampaign, campaign_id)
        assert queue_reviews(session, label_studio.admin, campaign) == 2
    reviews = {t.campaign_task_id: t for t in _tasks(session_factory, campaign_id, "senior", corpus)}
    assert set(reviews) == {first.campaign_task_id, second.campaign_task_id}
    under_review = consolidate_campaign(session_factory, label_studio.admin, "senior")
    assert under_review.states == {"under_review": 2, "pending": 14}
    assert _stored(session_factory)[0] == {}  # a first read alone is not final

    # the senior (reader 2's account) corrects the density of the first side: the senior's read is what counts
    review = reviews[first.campaign_task_id]
    density = other_composition(review.gt.composition)
    label_studio.reader("reader_2").create_annotation(
        review.ls_task_id, read_result(review.gt, review.mappings, density)
    )
    report = consolidate_campaign(session_factory, label_studio.admin, "senior")
    assert report.states == {"reviewed": 1, "under_review": 1, "pending": 14}
    reads, findings, annotated = _stored(session_factory)
    [read] = reads.values()
    assert (read.campaign_task_id, read.source, read.composition) == (first.campaign_task_id, "reviewed", density)
    assert len(read.revision_ids or []) == 2  # the first read and the senior's
    assert findings == len(review.gt.findings) and annotated == set()  # the study's other side is not final


def test_open_consensus_is_final_once_the_readers_agree(
    label_studio: LabelStudioEnv, session_factory: sessionmaker[Session], ls_settings: Settings, corpus: Path
) -> None:
    campaign_id = provision_scheme(label_studio, session_factory, ls_settings, corpus, "open", "open_consensus")
    for t in _tasks(session_factory, campaign_id, "reader_1", corpus):
        label_studio.reader("reader_1").create_annotation(t.ls_task_id, read_result(t.gt, t.mappings))
    disagreeing: dict[int, tuple[int, LsTask]] = {}  # campaign task -> (reader 2's annotation, task)
    for k, t in enumerate(_tasks(session_factory, campaign_id, "reader_2", corpus)):
        density = other_composition(t.gt.composition) if k < 2 else None
        annotation = label_studio.reader("reader_2").create_annotation(
            t.ls_task_id, read_result(t.gt, t.mappings, density)
        )
        if density:
            disagreeing[t.campaign_task_id] = (annotation, t)

    report = consolidate_campaign(session_factory, label_studio.admin, "open")
    assert report.states == {"consensus": 14, "discordant": 2}
    assert report.queued_for_adjudication == 0 and report.agreement == {"sides": 0}  # no adjudicator, no kappas
    with session_scope(session_factory) as session:
        assert adjudication_queue(session, campaign_id) == []
        discordant = {
            t.id: t.discordance for t in session.scalars(select(CampaignTask).where(CampaignTask.state == "discordant"))
        }
    assert set(discordant) == set(disagreeing)
    assert all("composition differs" in " ".join(d or []) for d in discordant.values())
    reads, _, _ = _stored(session_factory)
    assert len(reads) == 14 and {r.source for r in reads.values()} == {"consensus"}

    # reader 2 comes round to reader 1's density on both sides
    for annotation, t in disagreeing.values():
        label_studio.reader("reader_2").update_annotation(annotation, read_result(t.gt, t.mappings))
    final = consolidate_campaign(session_factory, label_studio.admin, "open")
    assert final.states == {"consensus": 16}
    reads, findings, annotated = _stored(session_factory)
    everything = _studies(session_factory, set(reads))
    assert len(reads) == 16 and len(annotated) == 8 and annotated == everything
    assert (
        findings
        == final.findings
        == sum(len(t.gt.findings) for t in _tasks(session_factory, campaign_id, "reader_1", corpus))
    )
