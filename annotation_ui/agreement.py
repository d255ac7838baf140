"""Inter-reader agreement per campaign: Cohen's kappa on side-level scales, lesion-level F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from annotation_ui.discordance import IOU_THRESHOLD, match_findings
from annotation_ui.reads import SideRead


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Unweighted Cohen's kappa of two raters over the same items."""
    if len(a) != len(b) or not a:
        raise ValueError("kappa needs two non-empty rating lists of equal length")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=False)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in count_a.keys() | count_b.keys()) / (n * n)
    if expected == 1.0:  # both raters used one single category throughout: perfect, not undefined
        return 1.0
    return (observed - expected) / (1.0 - expected)


def lesion_f1(
    pairs: Sequence[tuple[SideRead, SideRead]], threshold: float = IOU_THRESHOLD
) -> tuple[float, int, int, int]:
    """F1 of reader 2's lesions against reader 1's (symmetric): 2·matched / (n1 + n2), with the counts."""
    matched = sum(len(match_findings(r1.findings, r2.findings, threshold)) for r1, r2 in pairs)
    n1 = sum(len(r1.findings) for r1, _ in pairs)
    n2 = sum(len(r2.findings) for _, r2 in pairs)
    return (2 * matched / (n1 + n2) if n1 + n2 else 1.0), matched, n1, n2


def agreement(pairs: Sequence[tuple[SideRead, SideRead]]) -> dict[str, Any]:
    """The campaign's agreement figures over every side both blind readers read validly."""
    if not pairs:
        return {"sides": 0}
    f1, matched, n1, n2 = lesion_f1(pairs)
    return {
        "sides": len(pairs),
        "kappa_composition": cohen_kappa([p[0].composition for p in pairs], [p[1].composition for p in pairs]),
        "kappa_assessment": cohen_kappa([p[0].assessment for p in pairs], [p[1].assessment for p in pairs]),
        "lesion_f1": f1,
        "lesions_matched": matched,
        "lesions_reader_1": n1,
        "lesions_reader_2": n2,
    }
