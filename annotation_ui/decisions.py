"""Per reading scheme, how the latest reads of one breast side decide its state and, once final, its read.

One small function per scheme, looked up in `DECIDERS` by the campaign's scheme name. Each sees the newest
untainted revision per role of one side (`Latest`) and records the outcome in `Decisions`; storing the final
reads, the ledger and the audit event are `annotation_ui.consolidation`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from annotation_ui.campaign_context import CampaignContext
from annotation_ui.discordance import discordances, match_findings
from annotation_ui.reads import Box, Finding, SideRead, parse_read
from emr_core.enums import CampaignTaskState, ReadSource
from emr_core.models_annotation import AnnotationRevision, CampaignTask

Latest = dict[str, AnnotationRevision]  # role -> newest untainted revision of one side


@dataclass
class Decisions:
    """Per-side outcome of one run."""

    consolidated: dict[int, tuple[SideRead, str, list[int]]] = field(default_factory=dict)
    to_adjudicate: list[tuple[CampaignTask, tuple[list[Any], list[Any]]]] = field(default_factory=list)
    pairs: list[tuple[SideRead, SideRead]] = field(default_factory=list)  # blind read pairs, for agreement

    def final(
        self, task: CampaignTask, state: CampaignTaskState, read: SideRead, source: ReadSource, revisions: list[int]
    ) -> None:
        task.state = state.value
        self.consolidated[task.id] = (read, source.value, revisions)


Decide = Callable[[CampaignContext, CampaignTask, Latest, Decisions], None]


def _mean_box(a: Box, b: Box) -> Box:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2, (a[3] + b[3]) / 2)


def merge_reads(r1: SideRead, r2: SideRead) -> SideRead:
    """Two concordant reads as one: matched findings with the mean of the two readers' boxes."""
    findings = []
    for i, j in match_findings(r1.findings, r2.findings):
        f1, f2 = r1.findings[i], r2.findings[j]
        boxes = {v: _mean_box(f1.boxes[v], f2.boxes[v]) for v in f1.boxes}
        findings.append(Finding(f1.finding_type, f1.birads, f1.attributes, boxes, f1.region_ids + f2.region_ids))
    return SideRead(r1.composition, r1.assessment, tuple(findings))


def _waiting(*reads: AnnotationRevision | None) -> CampaignTaskState:
    """A side whose needed reads are not all in and valid: invalid if one breaks the schema, else pending."""
    return CampaignTaskState.INVALID if any(r is not None and not r.valid for r in reads) else CampaignTaskState.PENDING


def _parse(ctx: CampaignContext, task: CampaignTask, revision: AnnotationRevision) -> SideRead:
    return parse_read(revision.result, ctx.mappings[task.id])


def _two_reads(
    ctx: CampaignContext, task: CampaignTask, latest: Latest
) -> tuple[AnnotationRevision, AnnotationRevision, SideRead, SideRead] | None:
    """Both readers' valid reads of the side and their discordances (on the task), or None with its state set."""
    r1, r2 = latest.get("reader_1"), latest.get("reader_2")
    if r1 is None or r2 is None or not (r1.valid and r2.valid):
        task.state = _waiting(r1, r2).value
        return None
    read1, read2 = _parse(ctx, task, r1), _parse(ctx, task, r2)
    task.discordance = discordances(read1, read2)
    return r1, r2, read1, read2


def decide_blind_double(ctx: CampaignContext, task: CampaignTask, latest: Latest, out: Decisions) -> None:
    """Two blind reads: concordant ones are merged; discordant ones wait for the adjudicator, whose read decides."""
    reads = _two_reads(ctx, task, latest)
    if reads is None:
        return
    r1, r2, read1, read2 = reads
    out.pairs.append((read1, read2))
    adjudicator = latest.get("adjudicator")
    if not task.discordance:
        out.final(task, CampaignTaskState.CONCORDANT, merge_reads(read1, read2), ReadSource.CONCORDANT, [r1.id, r2.id])
    elif adjudicator is not None and adjudicator.valid:
        revisions = [r1.id, r2.id, adjudicator.id]
        read = _parse(ctx, task, adjudicator)
        out.final(task, CampaignTaskState.ADJUDICATED, read, ReadSource.ADJUDICATED, revisions)
    else:
        task.state = CampaignTaskState.DISCORDANT.value
        out.to_adjudicate.append((task, (r1.result, r2.result)))


def decide_open_consensus(ctx: CampaignContext, task: CampaignTask, latest: Latest, out: Decisions) -> None:
    """Two open reads are final once they agree (the blind rule); until then the side stays discordant, for the
    readers to settle between them: the scheme has no adjudicator. Their pair is no independent agreement figure
    (each saw the other's read), so it is left out of the campaign's kappas."""
    reads = _two_reads(ctx, task, latest)
    if reads is None:
        return
    r1, r2, read1, read2 = reads
    if task.discordance:
        task.state = CampaignTaskState.DISCORDANT.value
    else:
        out.final(task, CampaignTaskState.CONSENSUS, merge_reads(read1, read2), ReadSource.CONSENSUS, [r1.id, r2.id])


def _one_reader(source: ReadSource) -> Decide:
    def decide(ctx: CampaignContext, task: CampaignTask, latest: Latest, out: Decisions) -> None:
        """The one reader's latest read is final once valid."""
        read = latest.get("reader_1")
        if read is None or not read.valid:
            task.state = _waiting(read).value
            return
        out.final(task, CampaignTaskState.READ, _parse(ctx, task, read), source, [read.id])

    return decide


def decide_senior_review(ctx: CampaignContext, task: CampaignTask, latest: Latest, out: Decisions) -> None:
    """The senior's latest valid read of a side under review is final; a first read alone leaves it under review."""
    first, senior = latest.get("reader_1"), latest.get("senior")
    if senior is not None and senior.valid:
        revisions = [r.id for r in (first, senior) if r is not None]
        out.final(task, CampaignTaskState.REVIEWED, _parse(ctx, task, senior), ReadSource.REVIEWED, revisions)
    elif senior is None and first is not None and first.valid:
        task.state = CampaignTaskState.UNDER_REVIEW.value
    else:
        task.state = _waiting(first, senior).value


# scheme name -> how it decides one side; the reads it needs are those of the scheme's roles (schemes.py)
DECIDERS: dict[str, Decide] = {
    "single": _one_reader(ReadSource.SINGLE),
    "ai_assisted": _one_reader(ReadSource.AI_ASSISTED),
    "blind_double": decide_blind_double,
    "blind_double_ai": decide_blind_double,
    "open_consensus": decide_open_consensus,
    "senior_review": decide_senior_review,
}
