"""Follow-up rules: a YAML file of BI-RADS assessment -> task, validated into typed objects."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from emr_core.clinical.roles import Role
from emr_core.settings import Settings, load_settings
from emr_core.vocabulary.birads import Assessment, values

DEFAULT_RULES = Path(__file__).parent / "default_followup_rules.yaml"
ASSESSMENTS = values(Assessment)


class AgeInterval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_age: int = Field(ge=0, le=130)
    max_age: int = Field(ge=0, le=130)
    months: int = Field(ge=1, le=120)


class TaskSpec(BaseModel):
    """What task a rule creates and when it is due (days, months, or months by age)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    assignee_role: Role = Role.CLINICIAN
    due_days: int | None = Field(default=None, ge=0, le=3650)
    due_months: int | None = Field(default=None, ge=0, le=120)
    interval_by_age: list[AgeInterval] | None = None

    @model_validator(mode="after")
    def _one_due(self) -> TaskSpec:
        given = [x for x in (self.due_days, self.due_months, self.interval_by_age) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of due_days, due_months, interval_by_age")
        return self

    def months_for_age(self, age: int | None) -> int | None:
        """The interval in months for this age, or None when no band covers it."""
        for band in self.interval_by_age or []:
            if age is not None and band.min_age <= age <= band.max_age:
                return band.months
        return None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,47}$")
    assessments: list[str] = Field(min_length=1)
    task: TaskSpec
    then: TaskSpec | None = None

    @field_validator("assessments")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in ASSESSMENTS]
        if unknown:
            raise ValueError(f"unknown BI-RADS categories {unknown}; use {', '.join(ASSESSMENTS)}")
        return values


class Reminders(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overdue_after_days: int = Field(default=0, ge=0, le=365)
    assignee_role: Role = Role.CLINICIAN


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    rules: list[Rule]
    reminders: Reminders = Reminders()

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self

    def rule_for(self, assessment: str) -> Rule | None:
        """The first rule listing this assessment."""
        return next((r for r in self.rules if assessment in r.assessments), None)


class RulesError(ValueError):
    """The rules file is unreadable or invalid; the message names the file and the field."""


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    try:
        raw: Any = yaml.safe_load(text)
        return RuleSet.model_validate(raw)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RulesError(f"{source}: {problems}") from None


def load_rules(path: Path | str | None = None, settings: Settings | None = None) -> RuleSet:
    """Rules from the path, else the followup_rules setting (SGM_FOLLOWUP_RULES), else the shipped defaults."""
    configured = None if path else (settings or load_settings()).followup_rules
    chosen = Path(path or configured or DEFAULT_RULES)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{chosen}: cannot read rules file: {exc.strerror}") from None
    return parse_rules(text, str(chosen))


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def rules_fingerprint(rules: RuleSet) -> str:
    """A short hash of the rules, reported so a run shows which rules it applied."""
    return hashlib.sha256(rules.model_dump_json().encode()).hexdigest()[:12]
