"""The quality gates as the pipeline runs them: build a frame from the EMR, validate its suite."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from quality.frames import Scope, findings_frame, images_frame, studies_frame
from quality.results import SuiteResult
from quality.runner import validate
from quality.suites.findings import findings_suite
from quality.suites.images import images_suite
from quality.suites.linking import linking_suite


def check_images(session: Session, root: Path, scope: Scope | None = None) -> SuiteResult:
    """The images suite over the instances in scope (and their conflicting copies)."""
    scope = scope or Scope()
    frame = images_frame(session, root, scope)
    return validate(images_suite(), frame, report=_scope_report(scope))


def check_linking(session: Session, max_days: float, now: datetime | None = None) -> SuiteResult:
    """The linking suite over every study: the review queue as it stands now."""
    frame = studies_frame(session, now)
    states = frame["link_state"].value_counts().to_dict()
    return validate(linking_suite(max_days), frame, report={"studies_by_state": states})


def check_findings(session: Session, allowed: Mapping[str, Collection[str]], scope: Scope | None = None) -> SuiteResult:
    """The findings suite over the consolidated sides and findings in scope."""
    scope = scope or Scope()
    return validate(findings_suite(allowed), findings_frame(session, scope), report=_scope_report(scope))


def _scope_report(scope: Scope) -> dict[str, str]:
    report = {}
    if scope.since is not None:
        report["since"] = scope.since.isoformat(timespec="seconds")
    if scope.until is not None:
        report["until"] = scope.until.isoformat(timespec="seconds")
    if scope.study_ids is not None:
        report["studies"] = str(len(scope.study_ids))
    return report
