"""Benchmark feedback metrics for one model version over synthetic exams (rows in a SQLite EMR).

    python bench/feedback.py [--exams 1000] [--seed 7] [--out DIR]

Target (issue 10): 1,000 exams in under 30 s. Timed: loading the frames from the database, the lesion
matching, FROC, exam AUC and the accept/edit/reject review (`model_feedback`). Reference in the same run, on
the very arrays our matching produced: MONAI's `compute_froc_curve_data` + `compute_froc_score` (if installed)
and scikit-learn's `roc_auc_score`; the figures must agree and the ratio of times is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.migrate import upgrade
from sgm_models.feedback import FeedbackOptions, detection_feedback, score_lesion_frames
from sgm_models.feedback_db import load_frames, model_feedback
from sgm_models.feedback_review import review_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: the shared test-row builders
from tests.support.feedback_rows import COLUMNS, ROWS, Box, ExamSpec, Image, add_campaign, add_exam

MODEL = ("bench-detector", "1")
IMAGES: list[Image] = [(side, view) for side in "LR" for view in ("cc", "mlo")]


def _box(rng: np.random.Generator, size: float) -> Box:
    x, y = float(rng.uniform(0, COLUMNS - size)), float(rng.uniform(0, ROWS - size))
    return (x, y, x + size, y + size)


def _jitter(rng: np.random.Generator, box: Box, px: float) -> Box:
    dx0, dy0, dx1, dy1 = (float(d) for d in rng.uniform(-px, px, 4))
    return (box[0] + dx0, box[1] + dy0, box[2] + dx1, box[3] + dy1)


def synthetic_exam(rng: np.random.Generator) -> ExamSpec:
    """30 % exams with one lesion (CC and MLO), 0.5 false boxes per image, half of them read with AI."""
    side = "LR"[int(rng.integers(2))]
    positive = rng.random() < 0.3
    lesions = {(side, v): [_box(rng, rng.uniform(150, 500))] for v in ("cc", "mlo")} if positive else {}
    predictions: dict[Image, list[tuple[Box, float]]] = {}
    for image in IMAGES:
        boxes = [(_box(rng, rng.uniform(100, 400)), float(rng.uniform(0, 0.6))) for _ in range(rng.poisson(0.5))]
        for lesion in lesions.get(image, []):
            if rng.random() < 0.8:
                boxes.append((_jitter(rng, lesion, 30), float(rng.uniform(0.4, 1.0))))
        predictions[image] = boxes
    scores = [s for boxes in predictions.values() for _, s in boxes]
    reviewed = None
    if rng.random() < 0.5:
        reviewed = {
            image: [_jitter(rng, b, 40) if rng.random() < 0.3 else b for b, _ in boxes if rng.random() < 0.7]
            for image, boxes in predictions.items()
        }
        for image, drawn in lesions.items():  # the reader draws a lesion the model missed
            if rng.random() < 0.3:
                reviewed[image] = [*reviewed[image], *drawn]
    return ExamSpec(
        assessment={"L": "4A" if positive and side == "L" else "1", "R": "4B" if positive and side == "R" else "2"},
        lesions=lesions,
        predictions=predictions,
        exam_score=max(scores, default=0.0),
        reviewed=reviewed,
    )


def build(url: str, exams: int, seed: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    rng = np.random.default_rng(seed)
    with session_scope(make_session_factory(engine)) as session:
        campaign = add_campaign(session, "blind_double_ai")
        for _ in range(exams):
            add_exam(session, campaign, synthetic_exam(rng), MODEL)
    engine.dispose()


def reference(url: str) -> tuple[float, dict[str, float]]:
    """Seconds and figures of the reference implementations on the arrays our matching produced."""
    from sklearn.metrics import roc_auc_score

    with session_scope(make_session_factory(make_engine(url))) as session:
        frames = load_frames(session, *MODEL, FeedbackOptions())
    scored = score_lesion_frames(frames.predictions, frames.lesions, len(frames.images), FeedbackOptions().criterion)
    monai: Any = None
    try:  # imported before the clock starts: torch's import alone takes seconds
        import monai.metrics as monai
    except ImportError:
        print("MONAI not installed: reference is scikit-learn's AUC only", file=sys.stderr)
    started = time.perf_counter()
    figures = {"exam_auc": float(roc_auc_score(frames.exams["positive"], frames.exams["exam_score"]))}
    if monai is not None:
        fps, sens = monai.compute_froc_curve_data(
            scored.false_positive_scores, scored.lesion_scores, len(scored.lesion_scores), scored.num_images
        )
        figures["froc_score"] = float(monai.compute_froc_score(fps, sens))
    return time.perf_counter() - started, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="folder for the SQLite EMR (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{(args.out or Path(tmp)) / 'feedback-bench.db'}"
        started = time.perf_counter()
        build(url, args.exams, args.seed)
        print(f"built {args.exams} exams in {time.perf_counter() - started:.1f} s")
        factory = make_session_factory(make_engine(url))
        started = time.perf_counter()
        with session_scope(factory) as session:
            result = model_feedback(session, *MODEL)
        ours = time.perf_counter() - started
        with session_scope(factory) as session:
            frames = load_frames(session, *MODEL, FeedbackOptions())
        started = time.perf_counter()
        detection_feedback(frames.images, frames.predictions, frames.lesions, frames.exams)
        review_counts(frames.shown, frames.drawn)
        pure = time.perf_counter() - started
        ref_seconds, ref = reference(url)
    d, r = result.detection, result.review
    print(f"exams {d.exams}, images {d.images}, lesions {d.lesions}, boxes {d.predictions}, reads {r.reads}")
    print(
        f"sensitivity {d.sensitivity:.3f}, FP/image {d.fp_per_image:.3f}, FROC {d.froc_score:.4f}, AUC {d.exam_auc:.4f}"
    )
    print(f"accepted {r.accepted}, edited {r.edited}, rejected {r.rejected}, added {r.added}")
    print(f"ours, database to figures: {ours:.2f} s (target < 30 s for 1,000 exams)")
    print(f"ours, figures from loaded frames (matching + FROC + AUC + review): {pure * 1000:.1f} ms")
    print(f"reference on our matched arrays (FROC curve/score + AUC): {ref_seconds * 1000:.1f} ms")
    print(f"ratio ours (frames) / reference: {pure / ref_seconds:.2f}")
    for key, value in ref.items():
        mine = getattr(d, key)
        print(f"  {key}: ours {mine:.6f}, reference {value:.6f}, {'agree' if abs(mine - value) < 1e-9 else 'DIFFER'}")


if __name__ == "__main__":
    main()
