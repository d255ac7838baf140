"""HTML forms from a template's JSON Schema: widgets to render, and the posted fields back into a document."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emr_core.clinical.forms import FieldError

BLANK_ROWS = 2  # empty rows offered under each list, so a form works without JavaScript


@dataclass
class Widget:
    """One input (or a group of them) named by its path, e.g. family_history.relatives.0.relation."""

    name: str
    label: str
    kind: str  # object, array, boolean, enum, integer, number, text, textarea
    required: bool = False
    options: list[str] = field(default_factory=list)
    children: list[Widget] = field(default_factory=list)
    rows: list[list[Widget]] = field(default_factory=list)
    description: str = ""


def humanise(key: str) -> str:
    """symptoms.since_weeks -> 'Since weeks' (the English msgid the catalogue translates)."""
    return key.replace("_", " ").strip().capitalize()


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "string")
    if "enum" in schema:
        return "enum"
    if kind == "string":
        return "textarea" if int(schema.get("maxLength", 0)) > 200 else "text"
    return str(kind)


def widgets(schema: Mapping[str, Any], data: Any, prefix: str = "") -> list[Widget]:
    """The widgets of an object schema, with as many list rows as `data` has plus blank ones."""
    required = set(schema.get("required", ()))
    values = data if isinstance(data, dict) else {}
    out = []
    for key, sub in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        w = Widget(
            name, sub.get("title") or humanise(key), _kind(sub), key in required, description=sub.get("description", "")
        )
        w.options = [str(o) for o in sub.get("enum", [])]
        if w.kind == "object":
            w.children = widgets(sub, values.get(key), f"{name}.")
        elif w.kind == "array":
            given = values.get(key)
            items: list[Any] = given if isinstance(given, list) else []
            count = min(len(items) + BLANK_ROWS, int(sub.get("maxItems", 20)))
            w.rows = [widgets(sub["items"], items[i] if i < len(items) else None, f"{name}.{i}.") for i in range(count)]
        out.append(w)
    return out


def label_paths(fields: list[Widget], parents: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """Input name -> the labels leading to it (section, row number, field), in the order the form shows them."""
    out: dict[str, tuple[str, ...]] = {}
    for w in fields:
        path = (*parents, w.label)
        out[w.name] = path
        out.update(label_paths(w.children, path))
        for number, row in enumerate(w.rows, 1):
            out.update(label_paths(row, (*path, str(number))))
    return out


@dataclass
class Parsed:
    """The document built from the form, what was typed (to show it again) and errors found while reading it."""

    data: dict[str, Any]
    typed: dict[str, str]
    errors: dict[str, str]


def _scalar(kind: str, text: str) -> tuple[Any, str | None]:
    """The typed value, or (None, error kind) when the text is not of that type."""
    if kind == "boolean":
        return {"true": True, "false": False}.get(text), None if text in ("true", "false") else "choice"
    if kind == "integer":
        return (int(text), None) if re.fullmatch(r"[+-]?\d{1,9}", text) else (None, "integer")
    if kind == "number":
        try:
            return float(text), None
        except ValueError:
            return None, "number"
    return text, None


def _read(schema: Mapping[str, Any], form: Mapping[str, str], prefix: str, parsed: Parsed) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, sub in schema.get("properties", {}).items():
        name, kind = f"{prefix}{key}", _kind(sub)
        if kind == "object":
            child = _read(sub, form, f"{name}.", parsed)
            if child or key in schema.get("required", ()):
                doc[key] = child
        elif kind == "array":
            rows = _rows(sub, form, name, parsed)
            if rows or key in schema.get("required", ()):  # a required list may be empty: "none"
                doc[key] = rows
        else:
            text = form.get(name, "").strip()
            if not text:
                continue
            parsed.typed[name] = text
            value, problem = _scalar(kind, text)
            if problem:
                parsed.errors[name] = problem
            else:
                doc[key] = value
    return doc


def _rows(schema: Mapping[str, Any], form: Mapping[str, str], name: str, parsed: Parsed) -> list[Any]:
    """Filled rows only, renumbered from 0 (blank rows are ignored); what was typed follows the renumbering."""
    rows: list[Any] = []
    for i in range(int(schema.get("maxItems", 20)) + BLANK_ROWS):
        scratch = Parsed({}, {}, {})
        row = _read(schema["items"], form, f"{name}.{i}.", scratch)
        if not scratch.typed:
            continue
        old, new = f"{name}.{i}.", f"{name}.{len(rows)}."
        parsed.typed.update({k.replace(old, new, 1): v for k, v in scratch.typed.items()})
        parsed.errors.update({k.replace(old, new, 1): v for k, v in scratch.errors.items()})
        rows.append(row)
    return rows


def parse(schema: Mapping[str, Any], form: Mapping[str, str]) -> Parsed:
    parsed = Parsed({}, {}, {})
    parsed.data = _read(schema, form, "", parsed)
    return parsed


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """A stored document as form values, to show a submission or fill a form again."""
    out: dict[str, str] = {}
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = "true" if value is True else "false" if value is False else str(value)
    return out


_LIMIT = re.compile(r"(?:maximum|minimum) of (-?[\d.]+)")


def error_kind(error: FieldError) -> tuple[str, str, str]:
    """(field name, error kind, limit) for a schema violation, to be worded in the user's language."""
    name = ".".join(map(str, error.path))
    text = error.message
    for marker, kind in (
        ("is a required property", "required"),
        ("greater than the maximum", "maximum"),
        ("less than the minimum", "minimum"),
        ("is not one of", "choice"),
        ("is too long", "too_long"),
        ("is not of type", "type"),
        ("Additional properties", "unknown"),
    ):
        if marker in text:
            limit = _LIMIT.search(text)
            return name, kind, limit.group(1) if limit else ""
    return name, "other", text
