"""Agreement figures against scikit-learn, discordance rules and the coordinate round trip (no server)."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import cohen_kappa_score

from annotation_ui.agreement import agreement, cohen_kappa, lesion_f1
from annotation_ui.discordance import discordances, iou, match_findings
from annotation_ui.reads import Finding, Region, SideRead, box_to_percent, region_box
from emr_core.dicom.render import mapping_for


def _finding(cc: tuple | None, mlo: tuple | None, birads: str = "4B", ftype: str = "mass") -> Finding:
    boxes = {v: b for v, b in (("cc", cc), ("mlo", mlo)) if b}
    return Finding(ftype, birads, {"mass_shape": "oval", "mass_margin": "circumscribed"}, boxes, ())


def test_kappa_equals_scikit_learn_on_random_ratings() -> None:
    rng = random.Random(5)
    for _ in range(50):
        n = rng.randint(2, 60)
        a = [rng.choice("abcd") for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice("abcd") for x in a]
        if len(set(a) | set(b)) > 1:
            assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_lesion_f1_and_summary() -> None:
    same = _finding((10, 10, 50, 50), (20, 20, 60, 60))
    r1 = SideRead("b", "4B", (same, _finding((200, 200, 220, 220), None)))
    r2 = SideRead("c", "4B", (_finding((12, 12, 52, 52), (21, 21, 61, 61)),))
    assert lesion_f1([(r1, r2)])[0] == pytest.approx(2 * 1 / 3)
    summary = agreement([(r1, r2), (r1, r1)])
    assert summary["sides"] == 2 and summary["lesions_matched"] == 3


def test_discordance_needs_every_shared_view_to_overlap() -> None:
    a = _finding((10, 10, 50, 50), (20, 20, 60, 60))
    other_mlo = _finding((10, 10, 50, 50), (300, 300, 340, 340))
    cc_only = _finding((10, 10, 50, 50), None)
    assert match_findings((a,), (other_mlo,)) == []
    assert match_findings((a,), (cc_only,)) == [(0, 0)]
    reasons = discordances(SideRead("b", "4B", (a,)), SideRead("b", "4B", (cc_only,)))
    assert reasons == ["cross-view link differs: mass on CC+MLO vs mass on CC"]
    reasons = discordances(
        SideRead("b", "4B", (a,)), SideRead("b", "4A", (_finding(a.boxes["cc"], a.boxes["mlo"], "4A"),))
    )
    assert reasons == ["assessment differs: 4B vs 4A", "mass BI-RADS differs: 4B vs 4A"]
    assert discordances(SideRead("b", "1", ()), SideRead("b", "1", ())) == []
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_box_round_trip_dicom_label_studio_dicom_within_a_pixel() -> None:
    rng = random.Random(1)
    for columns, rows in [(3328, 4096), (2294, 1914), (1000, 1300), (832, 1024)]:
        mapping = mapping_for(columns, rows, 1024)
        for _ in range(200):
            x0, y0 = rng.uniform(0, columns - 2), rng.uniform(0, rows - 2)
            box = (x0, y0, rng.uniform(x0 + 1, columns), rng.uniform(y0 + 1, rows))
            # Label Studio stores percentages as floats; keep only what its JSON would carry.
            value = {k: round(v, 13) for k, v in box_to_percent(box, mapping).items()}
            region = Region("r", "cc", ["mass"], value, (mapping.png_width, mapping.png_height))
            back = region_box(region, mapping)
            assert max(abs(a - b) for a, b in zip(back, box, strict=False)) <= 1.0
