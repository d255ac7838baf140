"""Form templates as self-contained JSON Schemas: checked when published, validated without retrieval."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import re2
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

# MariaDB's JSON_VALID (the JSON column's CHECK) refuses documents nested deeper than 31 levels,
# so neither a template nor a submission may go deeper (a scalar leaf counts as a level here).
MAX_TEMPLATE_DEPTH = 31
MAX_DATA_DEPTH = 31
DRAFT_URI = "https://json-schema.org/draft/2020-12/schema"
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
# Keywords whose subschemas apply to the same instance: a cycle through them never ends.
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("not", "if", "then", "else")
_REFUSED_KEYWORDS = {
    "$id": "a template may not set its own base URI",
    "$dynamicRef": "dynamic references are not supported; use a local $ref",
    "$recursiveRef": "dynamic references are not supported; use a local $ref",
}


class TemplateRefusedError(ValueError):
    """The template cannot be published; the message says why, prefixed by 'json_schema: '."""


def _refuse_retrieval(uri: str) -> Resource[Any]:
    # Templates are self-contained: nothing is ever fetched, from the network or from disk.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def _registry() -> Registry[Any]:
    return Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


@lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """The pattern compiled by RE2 (linear-time matching); re2.error when RE2 cannot express it."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = compiled(pattern).search(instance)
    except re2.error:
        yield ValidationError(f"the template's pattern {pattern!r} is not supported")
        return
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, _s: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
    extras = [k for k in instance if k not in known and not any(compiled(p).search(k) for p in patterns)]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, sorted(extras)))})")


TemplateValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)


def validator_for(schema: dict[str, Any]) -> Any:
    """A validator that matches patterns with RE2 and resolves references only inside the template."""
    return TemplateValidator(schema, registry=_registry())


def depth(document: Any, limit: int) -> int:
    """Nesting depth of a JSON document, counted without recursion; stops once past `limit`."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    *("not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames"),
    *("unevaluatedItems", "unevaluatedProperties", "contentSchema"),
)


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def subschemas(schema: Any) -> dict[str, Any]:
    """Every subschema the validator can evaluate, by JSON pointer ('' is the root); booleans included."""
    found: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", schema)]
    while stack:
        pointer, node = stack.pop()
        found[pointer] = node
        if not isinstance(node, dict):
            continue
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend((f"{pointer}/{key}/{_escape(n)}", sub) for n, sub in node[key].items())
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend((f"{pointer}/{key}/{i}", sub) for i, sub in enumerate(node[key]))
        stack.extend((f"{pointer}/{key}", node[key]) for key in _SCHEMA_ONE if key in node)
    return found


def _ref_target(ref: Any, known: dict[str, Any]) -> str:
    """The pointer a local $ref names; TemplateRefusedError for anything that would need retrieval."""
    if not isinstance(ref, str) or not ref.startswith("#") or (len(ref) > 1 and ref[1] != "/"):
        raise TemplateRefusedError(f"json_schema: $ref {ref!r} is not a JSON pointer inside the template ('#/...')")
    target = unquote(ref[1:])
    if target not in known:
        raise TemplateRefusedError(f"json_schema: $ref {ref!r} does not point to a subschema of the template")
    return target


def _check_keywords(pointer: str, node: dict[str, Any]) -> None:
    for keyword, why in _REFUSED_KEYWORDS.items():
        if keyword in node:
            raise TemplateRefusedError(f"json_schema: {keyword} at '#{pointer}': {why}")
    if "$schema" in node and (pointer or node["$schema"] != DRAFT_URI):
        raise TemplateRefusedError(f"json_schema: $schema must be {DRAFT_URI!r}, at the root only")
    if "patternProperties" in node and "unevaluatedProperties" in node:
        raise TemplateRefusedError("json_schema: patternProperties with unevaluatedProperties is not supported")
    patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
    patterns += list(node.get("patternProperties") or {})
    for pattern in patterns:
        try:
            compiled(pattern)
        except re2.error:
            raise TemplateRefusedError(
                f"json_schema: pattern {pattern!r} at '#{pointer}' is not supported (RE2 syntax, no backreferences "
                "or lookaround)"
            ) from None


def _in_place(pointer: str, node: Any, known: dict[str, Any]) -> list[str]:
    """Subschemas applied to the same value as this one (no descent into the data)."""
    if not isinstance(node, dict):
        return []
    nexts = [
        f"{pointer}/{k}/{i}" for k in _IN_PLACE_LISTS if isinstance(node.get(k), list) for i in range(len(node[k]))
    ]
    nexts += [f"{pointer}/{k}" for k in _IN_PLACE_ONE if k in node]
    if isinstance(node.get("dependentSchemas"), dict):
        nexts += [f"{pointer}/dependentSchemas/{_escape(n)}" for n in node["dependentSchemas"]]
    if "$ref" in node:
        nexts.append(_ref_target(node["$ref"], known))
    return nexts


def _check_cycles(known: dict[str, Any]) -> None:
    """Refuse references that loop without consuming any data (they would recurse forever)."""
    edges = {pointer: _in_place(pointer, node, known) for pointer, node in known.items()}
    done: set[str] = set()
    for start, first in edges.items():
        path, stack = set(), [(start, iter(first))]
        path.add(start)
        while stack:
            pointer, successors = stack[-1]
            step = next(successors, None)
            if step is None:
                stack.pop()
                path.discard(pointer)
                done.add(pointer)
            elif step in path:
                raise TemplateRefusedError(f"json_schema: '#{step}' refers back to itself without descending into data")
            elif step not in done:
                path.add(step)
                stack.append((step, iter(edges[step])))


def check_template(schema: Any) -> None:
    """TemplateRefusedError unless the schema is a bounded, self-contained Draft 2020-12 schema with RE2 patterns."""
    if not isinstance(schema, dict):
        raise TemplateRefusedError("json_schema: must be a JSON object")
    if depth(schema, MAX_TEMPLATE_DEPTH) > MAX_TEMPLATE_DEPTH:
        raise TemplateRefusedError(f"json_schema: nested deeper than {MAX_TEMPLATE_DEPTH} levels")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise TemplateRefusedError(f"json_schema: not a valid JSON Schema: {exc.message}") from None
    known = subschemas(schema)
    for pointer, node in known.items():
        if isinstance(node, dict):
            _check_keywords(pointer, node)
    _check_cycles(known)
