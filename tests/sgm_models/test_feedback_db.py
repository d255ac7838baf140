"""Feedback from real EMR rows (SQLite and MariaDB): which studies count, lesions, false positives, reviews."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from annotation_ui.consolidation import decide_campaign
from detection.froc import HitCriterion
from emr_core.db import session_scope
from emr_core.enums import LedgerStage
from emr_core.models import LedgerEntry
from emr_core.models_annotation import ConsolidatedRead
from emr_core.models_ml import ModelPrediction
from sgm_models.feedback import FeedbackOptions
from sgm_models.feedback_db import FeedbackError, model_feedback
from tests.support.feedback_rows import ExamSpec, add_campaign, add_exam

MODEL = ("sgm-detector", "1")
P1 = (1010.0, 1010.0, 1390.0, 1390.0)


def _scenario(session: Session) -> None:
    ai, blind = add_campaign(session, "blind_double_ai"), add_campaign(session, "blind_double")
    exam_a = ExamSpec(
        assessment={"L": "4A", "R": "1"},
        lesions={("L", "cc"): [(1000, 1000, 1400, 1400)], ("L", "mlo"): [(900, 900, 1300, 1300)]},
        predictions={
            ("L", "cc"): [(P1, 0.9), ((1100, 1100, 1300, 1300), 0.5)],  # a hit, and a second hit on the lesion
            ("L", "mlo"): [((2000, 2000, 2200, 2200), 0.3)],  # misses the MLO lesion: false positive
            ("R", "cc"): [((500, 500, 700, 700), 0.4)],  # false positive
        },
        exam_score=0.8,
        # The reader kept P1, dropped the duplicate and the MLO box, drew the MLO lesion, resized the R box.
        reviewed={("L", "cc"): [P1], ("L", "mlo"): [(900, 900, 1300, 1300)], ("R", "cc"): [(520, 500, 700, 740)]},
    )
    add_exam(session, ai, exam_a, MODEL)
    add_exam(session, ai, ExamSpec(predictions={("R", "mlo"): [((100, 100, 200, 200), 0.2)]}, exam_score=0.3), MODEL)
    # A blind campaign's reader saw no predictions: their boxes are no review of the model.
    add_exam(session, blind, ExamSpec(exam_score=0.2, reviewed={("L", "cc"): [(10, 10, 50, 50)]}), MODEL)
    # Not counted: a side not final yet, a failed inference, another version.
    add_exam(session, ai, ExamSpec(final=False, predictions={("L", "cc"): [(P1, 0.9)]}), MODEL)
    add_exam(session, ai, ExamSpec(inference_status="failed"), MODEL)
    add_exam(session, ai, ExamSpec(predictions={("L", "cc"): [(P1, 0.9)]}), ("sgm-detector", "2"))


def test_feedback_from_rows(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _scenario(session)
    with session_scope(session_factory) as session:
        result = model_feedback(session, *MODEL)
    d = result.detection
    assert (d.exams, d.positive_exams, d.images, d.lesions, d.predictions) == (3, 1, 12, 2, 5)
    assert (d.true_positives, d.false_positives) == (1, 3)
    assert d.sensitivity == 0.5 and d.fp_per_image == 0.25 and d.exam_auc == 1.0
    r = result.review
    assert (r.reads, r.shown, r.accepted, r.edited, r.rejected, r.added) == (2, 4, 1, 1, 2, 1)
    assert len(result.exams) == 3
    assert result.metrics()["boxes_accepted"] == 1.0


def test_options_reach_the_loader(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _scenario(session)
    with session_scope(session_factory) as session:
        strict = model_feedback(session, *MODEL, FeedbackOptions(HitCriterion("iou", 0.95)))
        by_finding = model_feedback(session, *MODEL, FeedbackOptions(positive_rule="finding"))
    assert strict.detection.true_positives == 0  # P1's IoU with the lesion is 0.90
    assert by_finding.detection.positive_exams == 1


def test_unknown_version_is_a_one_line_error(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session, pytest.raises(FeedbackError, match="no study predicted by x"):
        model_feedback(session, "x", "9")


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_hostile_reader_results_are_no_boxes(session_factory: sessionmaker[Session]) -> None:
    from emr_core.models_annotation import AnnotationRevision

    with session_scope(session_factory) as session:
        campaign = add_campaign(session, "blind_double_ai")
        spec = ExamSpec(assessment={"L": "4", "R": "1"}, predictions={("L", "cc"): [(P1, 0.9)]}, reviewed={})
        add_exam(session, campaign, spec, MODEL)
        revision = session.scalars(select(AnnotationRevision)).first()
        assert revision is not None
        revision.result = [
            {"id": "a", "from_name": "cc_finding", "type": "rectanglelabels", "value": {"y": 1}},  # no x
            {"id": "b", "from_name": "cc_finding", "type": "rectanglelabels", "value": {"x": "left", "y": 1}},
            {"id": "c", "from_name": "elsewhere", "type": "rectanglelabels", "value": {"x": 1}},
            {"id": "d", "from_name": "cc_finding", "type": "rectanglelabels", "value": None},
            "not an object",
        ]
    with session_scope(session_factory) as session:
        review = model_feedback(session, *MODEL).review
    assert (review.shown, review.rejected, review.added) == (1, 1, 0)


def test_ai_assisted_reads_count_once_consolidated(session_factory: sessionmaker[Session]) -> None:
    """An AI-assisted read is reviewed once the campaign's own decision makes it final, not before."""
    with session_scope(session_factory) as session:
        campaign = add_campaign(session, "ai_assisted")
        spec = ExamSpec(
            assessment={"L": "4A", "R": "1"},
            predictions={("L", "cc"): [(P1, 0.9)], ("R", "cc"): [((500, 500, 700, 700), 0.4)]},
            reviewed={("L", "cc"): [P1]},  # the reader kept the L box and removed the R one
            decided=False,
        )
        study_id = add_exam(session, campaign, spec, MODEL)
    with session_scope(session_factory) as session, pytest.raises(FeedbackError, match="final reads"):
        model_feedback(session, *MODEL)
    decided = decide_campaign(session_factory, campaign.name)
    assert (decided.states, decided.findings) == ({"read": 2}, 1)
    with session_scope(session_factory) as session:
        result = model_feedback(session, *MODEL)
        sources = set(session.scalars(select(ConsolidatedRead.source)))
        annotated = session.scalars(select(LedgerEntry.study_id).where(LedgerEntry.stage == LedgerStage.ANNOTATED))
        assert list(annotated) == [study_id]
    assert sources == {"ai_assisted"}
    r = result.review
    assert (r.reads, r.shown, r.accepted, r.edited, r.rejected, r.added) == (2, 2, 1, 0, 1, 0)
    assert result.metrics()["reviewed_reads"] == 2.0
    d = result.detection
    assert (d.exams, d.lesions, d.predictions, d.true_positives, d.false_positives) == (1, 1, 2, 1, 1)


def test_damaged_prediction_rows_lose_their_boxes_not_the_feedback(session_factory: sessionmaker[Session]) -> None:
    """A database writer left invalid JSON in one row and a malformed box in another: both are no predictions."""
    with session_scope(session_factory) as session:
        _scenario(session)
        rows = {
            tuple(p.boxes[0][k] for k in ("x_min", "y_min")): p.id
            for p in session.scalars(select(ModelPrediction))
            if p.boxes
        }
        edit = text("UPDATE model_predictions SET boxes = :raw WHERE id = :id")
        # MariaDB checks JSON syntax itself; SQLite keeps any text.
        broken = "{not json" if session.get_bind().dialect.name == "sqlite" else '{"not": "a list"}'
        session.execute(edit, {"raw": broken, "id": rows[(500, 500)]})  # exam A's R CC false positive
        session.execute(edit, {"raw": '[{"x_min": "2000", "score": 0.3}]', "id": rows[(2000, 2000)]})  # L MLO
    with session_scope(session_factory) as session:
        d = model_feedback(session, *MODEL).detection
    assert (d.exams, d.lesions, d.predictions, d.true_positives, d.false_positives) == (3, 2, 3, 1, 1)
