"""Validate a suite over a pandas frame with Great Expectations 1.x (ephemeral context) and summarise it."""

from __future__ import annotations

import math
import uuid
from collections.abc import Hashable, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from quality.results import RuleResult, SuiteResult
from quality.spec import Rule, Suite, SuiteError

EXAMPLES = 5


def validate(
    suite: Suite, frame: pd.DataFrame, examples: int = EXAMPLES, report: dict[str, Any] | None = None
) -> SuiteResult:
    """Run every rule of `suite` over `frame`; failing rows are reported by their key columns."""
    prepared = suite.prepare(frame.copy()).reset_index(drop=True)
    _check_columns(suite, prepared)
    gx_result = _run_gx(suite, prepared)
    rules = tuple(
        _rule_result(suite, rule, outcome, prepared, examples)
        for rule, outcome in zip(suite.rules, gx_result.results, strict=True)
    )
    return SuiteResult(
        suite=suite.name,
        success=all(r.success for r in rules),
        blocking=suite.blocking,
        rows=len(prepared),
        rules=rules,
        report=dict(report or {}),
    )


def _check_columns(suite: Suite, frame: pd.DataFrame) -> None:
    needed = {c for rule in suite.rules for c in rule.columns} | set(suite.key_columns)
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise SuiteError(f"suite {suite.name}: frame lacks column(s) {missing}")


def _run_gx(suite: Suite, frame: pd.DataFrame) -> Any:
    # Imported here: great_expectations costs seconds to import, and most CLI paths never need it.
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    name = f"{suite.name}-{uuid.uuid4().hex[:8]}"
    batch_definition = (
        context.data_sources.add_pandas(name=name)
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe(name)
    )
    gx_suite = context.suites.add(gx.ExpectationSuite(name=name))
    for rule in suite.rules:
        gx_suite.add_expectation(getattr(gxe, rule.expectation)(**rule.kwargs, description=rule.description))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})


def _rule_result(suite: Suite, rule: Rule, outcome: Any, frame: pd.DataFrame, examples: int) -> RuleResult:
    result = outcome.result or {}
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        raise SuiteError(
            f"suite {suite.name}, rule {rule.description!r}: {outcome.exception_info.get('exception_message')}"
        )
    indices = list(result.get("unexpected_index_list") or [])
    count = int(result.get("unexpected_count") or len(indices))
    return RuleResult(
        description=rule.description,
        expectation=rule.expectation,
        success=bool(outcome.success),
        failing_count=count,
        examples=_examples(frame, indices[:examples], _shown(suite, rule)),
    )


def _shown(suite: Suite, rule: Rule) -> list[str]:
    names = [*suite.key_columns, *rule.columns, *rule.show]
    return [n for n in dict.fromkeys(names) if n not in suite.hidden_columns]


def _examples(frame: pd.DataFrame, indices: Sequence[Hashable], columns: list[str]) -> tuple[dict[str, Any], ...]:
    rows = frame.loc[list(indices), [c for c in columns if c in frame.columns]]
    return tuple({k: _plain(v) for k, v in row.items()} for _, row in rows.iterrows())


def _plain(value: Any) -> Any:
    """A value fit for JSON and Dagster metadata: no NaN, numpy scalars or timestamps."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        return value.item()
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return value
