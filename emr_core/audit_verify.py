"""Verify the audit log against what lives outside the database: the key, signed checkpoints, the syslog copy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from emr_core.audit import verify_chain
from emr_core.audit_message import parse_seal
from emr_core.audit_seal import CheckpointFile, fingerprint

MAX_LINES_PER_KIND = 20


@dataclass
class VerifyReport:
    """Problems found (tampering), notes (gaps that are not tampering) and what was compared."""

    events: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        against = ", ".join(self.compared)
        if self.intact:
            return f"audit log intact: {self.events} events verified against {against}"
        return f"audit log TAMPERED: {len(self.problems)} problem(s) in {self.events} events, checked against {against}"


def _ranges(ids: list[int]) -> list[str]:
    """[1, 2, 3, 7] -> ['1-3', '7']: a truncation of 50 rows reads as one line."""
    spans: list[list[int]] = []
    for n in sorted(ids):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in spans]


def _grouped(by_problem: dict[str, list[int]], noun: str = "event") -> list[str]:
    lines: list[str] = []
    for problem, ids in by_problem.items():
        spans = _ranges(ids)
        shown = ", ".join(spans[:MAX_LINES_PER_KIND]) + (" ..." if len(spans) > MAX_LINES_PER_KIND else "")
        lines.append(f"{noun}{'s' if len(ids) > 1 else ''} {shown}: {problem}")
    return lines


def check_chain(session: Session, key: bytes, report: VerifyReport) -> dict[int, str]:
    """The HMAC chain inside the database; returns event id -> stored seal."""
    seals: dict[int, str] = {}
    by_problem: dict[str, list[int]] = defaultdict(list)
    for problem in verify_chain(session, key, seals):
        by_problem[problem.problem].append(problem.event_id)
    report.events = len(seals)
    report.problems += _grouped(by_problem)
    report.compared.append("the keyed chain")
    return seals


def check_checkpoints(checkpoints: CheckpointFile, seals: dict[int, str], report: VerifyReport) -> None:
    """Every signed checkpoint must name an event still present with the same seal."""
    good, bad = checkpoints.read()
    report.problems += bad[:MAX_LINES_PER_KIND]
    by_problem: dict[str, list[int]] = defaultdict(list)
    newest = max((p.event_id for p in good), default=0)
    last_stored = max(seals, default=0)
    for point in good:
        stored = seals.get(point.event_id)
        if stored is None and point.event_id <= last_stored:
            by_problem["checkpointed, but missing from the database (deleted)"].append(point.event_id)
        elif stored is not None and stored != point.row_hash:
            by_problem["seal differs from its signed checkpoint (rewritten)"].append(point.event_id)
    if newest > last_stored:
        # Checkpoints bind every event up to them: all those after the newest stored one are gone.
        span = f"{last_stored + 1}-{newest}" if newest > last_stored + 1 else f"{newest}"
        report.problems.append(f"events {span}: missing from the database (checkpointed up to {newest}; deleted)")
    report.problems += _grouped(by_problem)
    after = sum(1 for n in seals if n > newest)
    if after:
        report.notes.append(f"{after} newest event(s) after the last checkpoint ({newest}) rest on the chain alone")
    if seals and not good:
        report.notes.append(f"no checkpoints in {checkpoints.path}: only the keyed chain was checked")
    report.compared.append(f"{len(good)} signed checkpoints")


@dataclass
class _Copy:
    seals: dict[int, str] = field(default_factory=dict)
    unreadable: int = 0
    foreign: int = 0


def _read_copy(files: Sequence[Path], site: str) -> _Copy:
    """The seals of this chain's messages in the files (rotated logs in any order; a resend repeats one)."""
    copy = _Copy()
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                start, end = line.find("<AuditMessage"), line.rfind("</AuditMessage>")
                if start < 0:
                    continue
                found = parse_seal(line[start : end + len("</AuditMessage>")]) if end > start else None
                if found is None:
                    copy.unreadable += 1
                elif site and found.site and found.site != site:
                    copy.foreign += 1  # another installation's chain, sharing the repository
                else:
                    copy.seals[found.event_id] = found.row_hash
    return copy


def check_copy(files: Sequence[Path], seals: dict[int, str], report: VerifyReport, site: str = "") -> None:
    """Every event of this chain (site) in the repository's copy must be in the database with the same seal."""
    copy = _read_copy(files, site)
    by_problem: dict[str, list[int]] = defaultdict(list)
    for event_id, row_hash in copy.seals.items():
        stored = seals.get(event_id)
        if stored is None:
            by_problem["in the external copy, but missing from the database (deleted)"].append(event_id)
        elif stored != row_hash:
            by_problem["differs from the external copy (edited and re-sealed)"].append(event_id)
    report.problems += _grouped(by_problem)
    names = ", ".join(p.name for p in files)
    if copy.unreadable:
        report.problems.append(f"{copy.unreadable} unreadable audit message(s) in {names}")
    if copy.foreign:
        report.notes.append(f"{copy.foreign} message(s) of other audit chains in {names} were skipped")
    missing = [n for n in seals if n not in copy.seals]
    if missing:
        report.notes.append(
            f"{len(missing)} event(s) not (yet) in the external copy: {', '.join(_ranges(missing)[:5])}"
        )
    report.compared.append(f"{len(copy.seals)} messages of {names}")


def verify_audit_log(
    session: Session, key: bytes, checkpoints: CheckpointFile, copy: Sequence[Path] = ()
) -> VerifyReport:
    """The chain, then the checkpoints, then (when given) the audit record repository's copy."""
    report = VerifyReport()
    seals = check_chain(session, key, report)
    check_checkpoints(checkpoints, seals, report)
    if copy:
        check_copy(copy, seals, report, fingerprint(key))
    return report
