"""The one BI-RADS annotation schema, and site/campaign configuration that restricts or extends it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from emr_core.vocabulary.birads import LEXICON, Attribute, FindingType, values

FINDING_TYPES: tuple[str, ...] = values(FindingType)


class SchemaConfigError(ValueError):
    """A site/campaign schema configuration is invalid; the message names the key."""


@dataclass(frozen=True)
class Schema:
    """Finding types, per-box attributes and the side-level scales one campaign uses."""

    finding_types: tuple[str, ...] = FINDING_TYPES
    attributes: tuple[Attribute, ...] = LEXICON

    def attribute(self, name: str) -> Attribute:
        """The attribute called `name` (KeyError if the schema has none)."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(name)

    def attributes_for(self, finding_type: str) -> tuple[Attribute, ...]:
        return tuple(a for a in self.attributes if finding_type in a.applies_to)


DEFAULT_SCHEMA = Schema()


def load_schema_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON schema configuration file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SchemaConfigError(f"{path}: not valid YAML/JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SchemaConfigError(f"{path}: the top level must be a mapping")
    return data


def build_schema(config: dict[str, Any] | None = None) -> Schema:
    """The default schema with a configuration applied: `finding_types` restricts, `attributes` edits or adds."""
    config = dict(config or {})
    unknown = set(config) - {"finding_types", "attributes"}
    if unknown:
        raise SchemaConfigError(f"unknown key(s) {sorted(unknown)}: use finding_types, attributes")
    types = _subset("finding_types", config.get("finding_types", list(FINDING_TYPES)), FINDING_TYPES)
    attributes = {a.name: replace(a, applies_to=tuple(t for t in a.applies_to if t in types)) for a in LEXICON}
    edits = config.get("attributes") or {}
    if not isinstance(edits, dict):
        raise SchemaConfigError("attributes: must be a mapping of attribute name to settings")
    for name, settings in edits.items():
        attributes[name] = _edit(name, settings, attributes.get(name), types)
    return Schema(types, tuple(a for a in attributes.values() if a.applies_to))


def _subset(key: str, values: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """Check a configured list is a non-empty subset of the lexicon, keeping lexicon order."""
    if not isinstance(values, list) or not values:
        raise SchemaConfigError(f"{key}: must be a non-empty list")
    strange = [v for v in values if v not in allowed]
    if strange:
        raise SchemaConfigError(f"{key}: {strange} not in the BI-RADS lexicon (allowed: {list(allowed)})")
    return tuple(v for v in allowed if v in values)


def _edit(name: str, settings: Any, base: Attribute | None, types: tuple[str, ...]) -> Attribute:
    """Restrict a lexicon attribute (values, required) or define a site attribute."""
    key = f"attributes.{name}"
    if not isinstance(settings, dict):
        raise SchemaConfigError(f"{key}: must be a mapping")
    allowed = {"values", "required", "title", "applies_to", "multiple"} if base is None else {"values", "required"}
    extra = set(settings) - allowed
    if extra:
        hint = "lexicon attributes can only restrict values or set required" if base else f"use {sorted(allowed)}"
        raise SchemaConfigError(f"{key}: unknown key(s) {sorted(extra)} ({hint})")
    required = settings.get("required", base.required if base else False)
    if not isinstance(required, bool):
        raise SchemaConfigError(f"{key}.required: must be true or false")
    if base is not None:
        values = _subset(f"{key}.values", settings["values"], base.values) if "values" in settings else base.values
        return replace(base, values=values, required=required)
    return _new_attribute(key, name, settings, required, types)


def _new_attribute(key: str, name: str, settings: dict[str, Any], required: bool, types: tuple[str, ...]) -> Attribute:
    """A site-specific attribute: a new name, its own values, the finding types it applies to."""
    if not name.replace("_", "").isalnum() or not name[:1].isalpha():
        raise SchemaConfigError(f"{key}: name must be letters, digits and underscores")
    values = settings.get("values")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise SchemaConfigError(f"{key}.values: a new attribute needs a non-empty list of strings")
    applies = _subset(f"{key}.applies_to", settings.get("applies_to", list(types)), types)
    title = str(settings.get("title") or name.replace("_", " ").capitalize())
    return Attribute(name, title, tuple(values), applies, required, bool(settings.get("multiple", False)))
