"""Follow-up rules files: the shipped defaults load; mistakes are reported with file and field."""

from __future__ import annotations

from datetime import date

import pytest

from emr_core.clinical.rules import DEFAULT_RULES, RulesError, add_months, load_rules, parse_rules


def test_shipped_rules_cover_every_screening_assessment() -> None:
    rules = load_rules(DEFAULT_RULES)
    kinds = {a: rules.rule_for(a).task.kind for a in ("0", "1", "2", "3", "4", "4A", "4B", "4C", "5")}
    assert kinds == {
        "0": "recall",
        "1": "routine_screening",
        "2": "routine_screening",
        "3": "short_interval_followup",
        "4": "biopsy",
        "4A": "biopsy",
        "4B": "biopsy",
        "4C": "biopsy",
        "5": "biopsy",
    }
    assert rules.rule_for("4B").then.kind == "pathology_result"
    routine = rules.rule_for("1").task
    assert [routine.months_for_age(a) for a in (39, 45, 60, 80, None)] == [None, 12, 24, None, None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "not valid YAML"),
        (
            "rules:\n  - id: x\n    assessments: ['7']\n    task: {kind: k, title: t, due_days: 1}\n",
            "rules.0.assessments",
        ),
        ("rules:\n  - id: x\n    assessments: ['1']\n    task: {kind: k, title: t}\n", "exactly one of due_days"),
        (
            "rules:\n  - id: x\n    assessments: ['1']\n"
            "    task: {kind: k, title: t, due_days: 1, assignee_role: janitor}\n",
            "rules.0.task.assignee_role",
        ),
        (
            "rules:\n  - id: x\n    assessments: ['1']\n    task: {kind: k, title: t, due_days: 1, colour: red}\n",
            "rules.0.task.colour",
        ),
    ],
)
def test_invalid_rules_name_the_field(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=r"rules\.yaml") as caught:
        parse_rules(text, "rules.yaml")
    assert message in str(caught.value)


def test_missing_rules_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.yaml")


def test_environment_variable_chooses_the_rules(tmp_path, monkeypatch) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "rules:\n  - id: only-zero\n    assessments: ['0']\n    task: {kind: recall, title: Recall, due_days: 7}\n"
    )
    monkeypatch.setenv("SGM_FOLLOWUP_RULES", str(path))
    assert [r.id for r in load_rules().rules] == ["only-zero"]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 15), 6, date(2025, 7, 15)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 12, 1), 24, date(2027, 12, 1)),
    ],
)
def test_add_months_clamps_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected
