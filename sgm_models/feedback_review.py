"""Per-box accept / edit / reject: what readers who saw a model's boxes kept in their final read.

The rule is geometric, in DICOM pixels, per read (one reader's final result on one task) and per image:
predicted boxes and the reader's boxes are paired one-to-one, greedily by decreasing IoU, among pairs that
overlap by at least `edit_iou`. A predicted box paired with IoU >= `accept_iou` was *accepted* (kept as is; the
margin absorbs the percent rounding of Label Studio's coordinates); paired below that it was *edited*
(overlapping but moved or resized); unpaired it was *rejected* (removed). Reader boxes left unpaired were
*added* by the reader (lesions the model did not offer).

Why not Label Studio's region ids or `origin` ("prediction", "prediction-changed", "manual"): a reader who
deletes a pre-annotation and redraws the same lesion, a re-push of predictions (new ids) or a result copied
between annotations all lose them, while the geometry of the final read is what the feedback is about. A
redrawn box at the same place counts as accepted; a prediction dragged to an unrelated place counts as
rejected plus one added box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from detection.froc import box_iou

BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]
KEYS = ["read_id", "image_id"]


@dataclass(frozen=True)
class ReviewOptions:
    accept_iou: float = 0.9
    edit_iou: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.edit_iou <= self.accept_iou <= 1.0:
            raise ValueError(f"need 0 < edit IoU ({self.edit_iou}) <= accept IoU ({self.accept_iou}) <= 1")


@dataclass(frozen=True)
class ReviewCounts:
    """How readers treated the predicted boxes they were shown."""

    reads: int
    shown: int
    accepted: int
    edited: int
    rejected: int
    added: int

    def metrics(self) -> dict[str, float]:
        rate = {f"{k}_rate": getattr(self, k) / self.shown for k in ("accepted", "edited", "rejected") if self.shown}
        counts = {f"boxes_{k}": getattr(self, k) for k in ("shown", "accepted", "edited", "rejected", "added")}
        return {"reviewed_reads": float(self.reads), **{k: float(v) for k, v in {**counts, **rate}.items()}}


def _candidates(shown: pd.DataFrame, drawn: pd.DataFrame, options: ReviewOptions) -> pd.DataFrame:
    """Every overlapping (shown, drawn) pair on the same read and image, best IoU first."""
    pairs = shown[KEYS].assign(s=np.arange(len(shown))).merge(drawn[KEYS].assign(d=np.arange(len(drawn))), on=KEYS)
    s_idx, d_idx = pairs["s"].to_numpy(), pairs["d"].to_numpy()
    a = shown[BOX_COLUMNS].to_numpy(dtype=np.float64).reshape(-1, 4)[s_idx]
    b = drawn[BOX_COLUMNS].to_numpy(dtype=np.float64).reshape(-1, 4)[d_idx]
    pairs = pairs.assign(iou=box_iou(a, b))
    pairs = pairs[pairs["iou"] >= options.edit_iou]
    # Ties broken by position so that the pairing is deterministic.
    return pairs.sort_values(["iou", "s", "d"], ascending=[False, True, True], kind="mergesort")


def review_outcomes(shown: pd.DataFrame, drawn: pd.DataFrame, options: ReviewOptions | None = None) -> pd.Series:
    """'accepted', 'edited' or 'rejected' for each row of `shown` (same index)."""
    options = options or ReviewOptions()
    shown_r, drawn_r = shown.reset_index(drop=True), drawn.reset_index(drop=True)
    best = np.zeros(len(shown_r))
    used_s: set[int] = set()
    used_d: set[int] = set()
    # Greedy one-to-one pairing; the candidate list is short (only overlapping boxes on one image).
    for s, d, iou in _candidates(shown_r, drawn_r, options)[["s", "d", "iou"]].itertuples(index=False):
        if s not in used_s and d not in used_d:
            used_s.add(s)
            used_d.add(d)
            best[s] = iou
    outcome = np.where(best >= options.accept_iou, "accepted", np.where(best > 0, "edited", "rejected"))
    return pd.Series(outcome, index=shown.index, name="outcome")


def review_counts(shown: pd.DataFrame, drawn: pd.DataFrame, options: ReviewOptions | None = None) -> ReviewCounts:
    """Accepted, edited, rejected predicted boxes and reader-added boxes over all reads."""
    outcomes = review_outcomes(shown, drawn, options).value_counts()
    paired = int(outcomes.get("accepted", 0) + outcomes.get("edited", 0))
    reads = pd.concat([shown["read_id"], drawn["read_id"]]).nunique()
    return ReviewCounts(
        reads=int(reads),
        shown=len(shown),
        accepted=int(outcomes.get("accepted", 0)),
        edited=int(outcomes.get("edited", 0)),
        rejected=int(outcomes.get("rejected", 0)),
        added=len(drawn) - paired,
    )
