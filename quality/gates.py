"""The quality gates as the pipeline runs them: build a frame from the EMR, validate its suite."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from emr_core.vocabulary import birads
from quality.frames import Scope, count_studies, findings_frame, images_frame, waiting_studies_frame
from quality.report import write_report
from quality.results import SuiteResult
from quality.runner import validate
from quality.suites.dataset import validate_dataset
from quality.suites.findings import findings_suite
from quality.suites.images import images_suite
from quality.suites.linking import linking_suite


def check_images(session: Session, root: Path, scope: Scope | None = None) -> SuiteResult:
    """The images suite over the instances in scope (and their conflicting copies)."""
    scope = scope or Scope()
    frame = images_frame(session, root, scope)
    return validate(images_suite(), frame, report=_scope_report(scope))


def check_linking(session: Session, max_days: float, now: datetime | None = None) -> SuiteResult:
    """The linking suite over the studies waiting (unlinked or in the review queue) as it stands now."""
    frame = waiting_studies_frame(session, now)
    states = frame["link_state"].value_counts().to_dict()
    linked = count_studies(session) - len(frame)
    if linked:
        states["linked"] = linked
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


def dataset_report(
    manifest: pd.DataFrame,
    phi: Collection[str],
    text_columns: Sequence[str],
    label_columns: Sequence[str],
    version: str,
    out_dir: Path,
) -> tuple[SuiteResult, Path]:
    """Validate a dataset version's manifest and write its HTML quality report as <out_dir>/<version>/quality.html."""
    if not version or "/" in version or version in (".", ".."):
        raise ValueError(f"not a usable version name: {version!r}")
    result = validate_dataset(manifest, phi, text_columns, label_columns)
    path = write_report(out_dir / version / "quality.html", f"Training dataset {version}: quality", [result])
    return result, path


def birads_vocabulary() -> dict[str, frozenset[str]]:
    """The findings gate's allowed values, from the one BI-RADS vocabulary module."""
    return {
        "composition": frozenset(birads.values(birads.Composition)),
        "assessment": frozenset(birads.values(birads.Assessment)),
        "finding_type": frozenset(birads.values(birads.FindingType)),
        "birads": frozenset(a.value for a in birads.Assessment if a.category in birads.FINDING_CATEGORIES),
        **{a.name: frozenset(a.values) for a in birads.LEXICON},
    }
