"""Clinical forms: versioned JSON-Schema templates and validated submissions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from referencing.exceptions import Unresolvable
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emr_core.clinical.form_schema import MAX_DATA_DEPTH, check_template, depth, validator_for
from emr_core.models_clinical import FormSubmission, FormTemplate

TEMPLATES_DIR = Path(__file__).parent / "templates"
SHIPPED = {"breast_screening_intake": TEMPLATES_DIR / "breast_screening_intake.v1.json"}


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its path inside the submitted document and why."""

    path: list[str | int]
    message: str


class FormInvalid(ValueError):
    """The submission does not satisfy its template; `errors` names each field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.path)) or '(document)'}: {e.message}" for e in errors))
        self.errors = errors


def validation_errors(schema: dict[str, Any], data: Any) -> list[FieldError]:
    """Every violation, located by path; a missing property is named in the path. Never fetches anything."""
    if depth(data, MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
        return [FieldError([], f"nested deeper than {MAX_DATA_DEPTH} levels")]
    try:
        raw = list(validator_for(schema).iter_errors(data))
    except Unresolvable as exc:  # a template stored before references were checked at publishing
        return [FieldError([], f"the template refers to {exc.ref!r}, which is not inside it")]
    except RecursionError:
        return [FieldError([], "the template cannot be evaluated on this data (it recurses without end)")]
    found = []
    for error in sorted(raw, key=lambda e: list(map(str, e.path))):
        path: list[str | int] = list(error.path)
        if error.validator == "required":
            path.append(error.message.split("'")[1])
        found.append(FieldError(path, error.message))
    return found


def latest_template(session: Session, name: str) -> FormTemplate | None:
    return session.scalar(
        select(FormTemplate).where(FormTemplate.name == name).order_by(FormTemplate.version.desc()).limit(1)
    )


def add_template_version(session: Session, name: str, schema: dict[str, Any], created_by: str) -> FormTemplate:
    """Store the schema as the next version of the template; ValueError (TemplateRefusedError) when refused."""
    check_template(schema)  # cheap to repeat; callers holding a write lock should call it first, outside
    version = (session.scalar(select(func.max(FormTemplate.version)).where(FormTemplate.name == name)) or 0) + 1
    template = FormTemplate(
        name=name,
        version=version,
        title=str(schema.get("title", name))[:200],
        json_schema=schema,
        created_by=created_by,
    )
    session.add(template)
    session.flush()
    return template


def ensure_shipped_templates(session: Session) -> int:
    """Install shipped templates whose current content is not yet stored; returns how many."""
    added = 0
    for name, path in SHIPPED.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        current = latest_template(session, name)
        if current is None or current.json_schema != schema:
            add_template_version(session, name, schema, created_by="shipped")
            added += 1
    return added


def check_submission(template: FormTemplate, data: Any) -> None:
    """FormInvalid naming every field at fault; pure computation, so callers run it outside any lock."""
    errors = validation_errors(template.json_schema, data)
    if errors:
        raise FormInvalid(errors)


def store_submission(
    session: Session, patient_id: int, template: FormTemplate, data: Any, submitted_by: str
) -> FormSubmission:
    """Record a submission already checked with `check_submission` against this template version."""
    submission = FormSubmission(patient_id=patient_id, template_id=template.id, data=data, submitted_by=submitted_by)
    session.add(submission)
    session.flush()
    return submission
