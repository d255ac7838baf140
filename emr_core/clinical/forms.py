"""Clinical forms: versioned JSON-Schema templates and validated submissions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
    """Every violation, located by path; a missing property is named in the path."""
    found = []
    for error in sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path))):
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
    """Store the schema as the next version of the template; ValueError when it is not a schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"json_schema: not a valid JSON Schema: {exc.message}") from None
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


def submit_form(
    session: Session, patient_id: int, template: FormTemplate, data: Any, submitted_by: str
) -> FormSubmission:
    """Validate against the template version and store; FormInvalid before anything is written."""
    errors = validation_errors(template.json_schema, data)
    if errors:
        raise FormInvalid(errors)
    submission = FormSubmission(patient_id=patient_id, template_id=template.id, data=data, submitted_by=submitted_by)
    session.add(submission)
    session.flush()
    return submission
