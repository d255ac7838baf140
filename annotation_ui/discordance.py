"""Compare two reads of one breast side: lesions matched by IoU on every view both drew, and side-level scales."""

from __future__ import annotations

from annotation_ui.reads import Box, Finding, SideRead

IOU_THRESHOLD = 0.3  # boxes of the same lesion by two readers overlap at least this much


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (xmin, ymin, xmax, ymax) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _pair_score(a: Finding, b: Finding, threshold: float) -> float | None:
    """Mean IoU over the views both drew, None unless every shared view overlaps enough.

    Requiring every shared view keeps a CC match from hiding a different MLO box: if the
    readers linked the CC box to different MLO boxes, the findings do not match.
    """
    shared = a.boxes.keys() & b.boxes.keys()
    if not shared:
        return None
    scores = [iou(a.boxes[v], b.boxes[v]) for v in shared]
    return sum(scores) / len(scores) if min(scores) >= threshold else None


def match_findings(
    a: tuple[Finding, ...], b: tuple[Finding, ...], threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of findings by their IoU, best pairs first."""
    candidates = [
        (score, i, j)
        for i, fa in enumerate(a)
        for j, fb in enumerate(b)
        if (score := _pair_score(fa, fb, threshold)) is not None
    ]
    used_a, used_b, pairs = set(), set(), []
    for _, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _describe(f: Finding) -> str:
    return f"{f.finding_type} on {'+'.join(sorted(v.upper() for v in f.boxes))}"


def _pair_differences(fa: Finding, fb: Finding) -> list[str]:
    """How two matched findings differ: cross-view link, type, BI-RADS, attributes."""
    out = []
    if fa.boxes.keys() != fb.boxes.keys():
        out.append(f"cross-view link differs: {_describe(fa)} vs {_describe(fb)}")
    if fa.finding_type != fb.finding_type:
        out.append(f"finding type differs: {fa.finding_type} vs {fb.finding_type}")
    if fa.birads != fb.birads:
        out.append(f"{fa.finding_type} BI-RADS differs: {fa.birads} vs {fb.birads}")
    for name in sorted(fa.attributes.keys() | fb.attributes.keys()):
        if fa.attributes.get(name) != fb.attributes.get(name):
            out.append(f"{fa.finding_type} {name} differs: {fa.attributes.get(name)} vs {fb.attributes.get(name)}")
    return out


def discordances(r1: SideRead, r2: SideRead, threshold: float = IOU_THRESHOLD) -> list[str]:
    """Reasons the two reads disagree; empty when concordant."""
    out = []
    if r1.composition != r2.composition:
        out.append(f"composition differs: {r1.composition} vs {r2.composition}")
    if r1.assessment != r2.assessment:
        out.append(f"assessment differs: {r1.assessment} vs {r2.assessment}")
    pairs = match_findings(r1.findings, r2.findings, threshold)
    for i, j in pairs:
        out += _pair_differences(r1.findings[i], r2.findings[j])
    matched_1, matched_2 = {i for i, _ in pairs}, {j for _, j in pairs}
    out += [f"only read 1 has a {_describe(f)}" for i, f in enumerate(r1.findings) if i not in matched_1]
    out += [f"only read 2 has a {_describe(f)}" for j, f in enumerate(r2.findings) if j not in matched_2]
    return out
