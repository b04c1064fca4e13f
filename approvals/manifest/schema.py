"""The manifest's JSON Schema, and validation that names each field at fault and why.

jsonschema-rs validates: JSON Schema's own regular expressions (ECMA-262),
and fast enough to run on every gate check. Each of its errors is explained
from the keyword that failed and the schema node that holds it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs

from agents.identity import spiffe_id_errors
from approvals.manifest.errors import add_error, dotted
from approvals.manifest.reading import type_name
from approvals.manifest.scope import KIND_BY_KEY, KIND_LABELS, SCOPE_KINDS
from config.identifiers import identifier_errors

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "manifest.schema.json"
SCHEMA: dict = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
_VALIDATOR = jsonschema_rs.validator_for(SCHEMA, validate_formats=True)


def manifest_schema() -> dict:
    """Return a copy of the manifest JSON Schema (draft 2020-12), e.g. to serve it."""
    return copy.deepcopy(SCHEMA)


def resolve(schema: dict) -> dict:
    """Merge a local ``$ref`` target with the keywords beside the reference."""
    if "$ref" not in schema:
        return schema
    target = SCHEMA
    for part in schema["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**resolve(target), **{k: v for k, v in schema.items() if k != "$ref"}}


# What a change to a field does to an approval, as each field's CHANGE_CLASS
# keyword in the schema says: an ordered scope (an expansion needs review, a
# narrowing keeps the approval), a commitment bound exactly (any change needs
# review), or narrative text (free). The schema holds it so that it is served
# with the fields it classifies.
CHANGE_CLASS = "x-change-class"
SCOPE, COMMITMENT, NARRATIVE = "scope", "commitment", "narrative"
CHANGE_CLASSES = (SCOPE, COMMITMENT, NARRATIVE)


def schema_fields(schema: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """Yield (path, schema) for every field of ``schema``, references resolved.

    A field is a property that is not an object of properties; a list of such
    objects contributes its items' fields as ``path[].field``
    (``scope.tools[].access``).
    """
    for key, child in resolve(schema).get("properties", {}).items():
        child = resolve(child)
        name = f"{path}.{key}" if path else key
        items = child.get("items")
        if "properties" in child:
            yield from schema_fields(child, name)
        elif isinstance(items, dict) and "properties" in resolve(items):
            yield from schema_fields(items, f"{name}[]")
        else:
            yield name, child


def field_classes(schema: dict) -> dict[str, str]:
    """Return every field's change class by path; raise if one has none or an unknown one."""
    classes = {path: node.get(CHANGE_CLASS) for path, node in schema_fields(schema)}
    unclassified = sorted(path for path, cls in classes.items() if cls not in CHANGE_CLASSES)
    if unclassified:
        raise ValueError(f"manifest fields without a valid {CHANGE_CLASS}: {unclassified}")
    return classes


# Read once per process: a field without a class stops the application from starting.
FIELD_CLASSES: dict[str, str] = field_classes(SCHEMA)

# How a sentence names a field, from its ``title`` in the schema: a noun phrase in lower
# case without an article ("rollback plan"). A manifest's field reads "the rollback plan";
# a field of a scope entry takes its kind ("a tool's trust boundary"), as one title serves
# every kind. The words stand before the path, which stays for precision.
TITLE = "title"


def _entry_owner(path: str) -> str:
    """Return "a tool" for a field of ``scope.tools[]``; raise for another list of entries."""
    owner, _, _ = path.partition("[]")
    section, _, key = owner.partition(".")
    if section != "scope" or key not in KIND_BY_KEY:
        raise ValueError(f"manifest field {path} is in a list the field words do not know")
    noun = KIND_LABELS[KIND_BY_KEY[key]]
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def schema_titles(schema: dict) -> dict[str, str]:
    """Return every field's title by path, as the schema gives it; raise if one has none."""
    titles = {path: node.get(TITLE) for path, node in schema_fields(schema)}
    untitled = sorted(path for path, title in titles.items() if not title)
    if untitled:
        raise ValueError(f"manifest fields without a {TITLE}: {untitled}")
    return titles


def item_titles(schema: dict) -> dict[str, str]:
    """Return the title of one item of a list or mapping field, by the field's path.

    A log destination (``logging.destinations[siem]``) or one of an entry's
    constraints (``constraints.max_amount_eur``) is named by the title of the
    field's ``items`` or ``additionalProperties``: "log destination", "constraint".
    """
    titles = {}
    for path, node in schema_fields(schema):
        for key in ("items", "additionalProperties"):
            item = node.get(key)
            if isinstance(item, dict) and resolve(item).get(TITLE):
                titles[path] = resolve(item)[TITLE]
    return titles


def field_titles(schema: dict) -> dict[str, str]:
    """Return every field's words by path ("a tool's trust boundary"); raise if one has none."""
    return {
        path: f"{_entry_owner(path)}'s {title}" if "[]" in path else f"the {title}"
        for path, title in schema_titles(schema).items()
    }


# Read once per process: a field without words stops the application from starting.
TITLES: dict[str, str] = schema_titles(SCHEMA)
ITEM_TITLES: dict[str, str] = item_titles(SCHEMA)
FIELD_TITLES: dict[str, str] = field_titles(SCHEMA)


def field_title(path: str) -> str:
    """Return a field's title ("rollback plan"); a path the schema does not know, as it is."""
    return TITLES.get(path, path)


def entry_field_title(name: str) -> str:
    """Return the title of a scope entry's field by its name ("trust boundary"), one for
    every kind."""
    return field_title(f"scope.{SCOPE_KINDS[0]}[].{name}")


def field_named(path: str) -> str:
    """Name a field as a reason does: its words, then its path ("the rollback plan
    (rollback.plan)"); a path the schema does not know, as it is."""
    title = FIELD_TITLES.get(path)
    return f"{title} ({path})" if title else path


def fields_named(paths: list[str]) -> str:
    """Name fields in one phrase, in the given order: "a, b and c"."""
    named = [field_named(path) for path in paths]
    return " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)


def field_bounds(path: str) -> dict[str, int]:
    """Return the ``minimum`` and ``maximum`` the schema sets on the field at ``path``."""
    node = dict(schema_fields(SCHEMA))[path]
    return {key: node[key] for key in ("minimum", "maximum") if key in node}


_PATTERN_EXPLAINERS: dict[str, Callable[[str], list[str]]] = {
    SCHEMA["$defs"]["spiffe_id"]["pattern"]: spiffe_id_errors,
    SCHEMA["$defs"]["identifier_characters"]["pattern"]: identifier_errors,
}
_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _type_message(expected: str | list[str], node: dict, value: Any) -> list[str]:
    """Explain a ``type`` failure."""
    names = [_TYPE_NAMES[t] for t in ([expected] if isinstance(expected, str) else expected)]
    names = [n for n in names if n != "null"] or names
    return [f"must be {' or '.join(names)}, not {type_name(value)}"]


def _enum_message(allowed: list, node: dict, value: Any) -> list[str]:
    """Explain an ``enum`` failure."""
    names = ", ".join(str(v) for v in allowed if v is not None)
    return [f"must be one of: {names} (got {value!r})"]


def _pattern_message(pattern: str, node: dict, value: Any) -> list[str]:
    """Explain a ``pattern`` failure, in detail where an explainer exists."""
    explain = _PATTERN_EXPLAINERS.get(pattern)
    problems = explain(value) if explain else []
    if problems:
        return problems
    description = node.get("description")
    if description:
        return [description[0].lower() + description[1:].rstrip(".")]
    return [f"must match the pattern {pattern}"]


# By keyword: its messages from the keyword's value, the schema node and the value at fault.
_MESSAGES: dict[str, Callable[[Any, dict, Any], list[str]]] = {
    "type": _type_message,
    "enum": _enum_message,
    "pattern": _pattern_message,
    "minimum": lambda limit, node, value: [f"must be at least {limit}"],
    "maximum": lambda limit, node, value: [f"must be at most {limit}"],
    "minItems": lambda limit, node, value: [f"must list at least {limit} item(s)"],
    "maxLength": lambda limit, node, value: [f"must be at most {limit} characters long"],
    "uniqueItems": lambda unique, node, value: ["must not list the same item twice"],
    "format": lambda name, node, value: [f"must be a valid {name} (got {value!r})"],
}


def _schema_node(location: list) -> dict | None:
    """Return the schema object at a keyword's location (the keyword's parent), or None."""
    node: Any = SCHEMA
    for part in location[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, dict) else None


def _explain(error: jsonschema_rs.ValidationError) -> Iterator[tuple[tuple, str]]:
    """Yield (path, message) pairs for one validation error, on the offending child's path."""
    path = tuple(error.instance_path)
    keyword = error.kind.name
    node = _schema_node(error.schema_path)
    if keyword == "required":
        yield (*path, error.kind.property), "is required"
    elif keyword == "additionalProperties" and node is not None:
        known = ", ".join(node.get("properties", {}))
        for name in error.kind.unexpected:
            yield (*path, name), f"is not an allowed field (expected one of: {known})"
    elif keyword in _MESSAGES and node is not None and keyword in node:
        for message in _MESSAGES[keyword](node[keyword], node, error.instance):
            yield path, message
    else:
        yield path, error.message


def latest_test_date(today: date) -> date:
    """Return the latest kill-switch test date a manifest may give on `today` (UTC).

    A test cannot have happened after today; the day after is allowed because it has
    already begun in the time zones ahead of UTC.
    """
    return today + timedelta(days=1)


# The dates the schema's `format: date` accepts (RFC 3339 full-date).
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _future_test_date(kill_switch: object) -> str:
    """Return why the kill switch's `last_tested` cannot be taken today, or ''."""
    tested = kill_switch.get("last_tested") if isinstance(kill_switch, dict) else None
    if not isinstance(tested, str) or not _FULL_DATE.fullmatch(tested):
        return ""  # absent, or the schema reports it
    try:
        day = date.fromisoformat(tested)
    except ValueError:
        return ""
    latest = latest_test_date(datetime.now(UTC).date())
    if day > latest:
        return (
            f"must not be in the future: {latest.isoformat()} at the latest, the date it "
            "already is in the time zones furthest ahead of UTC"
        )
    return ""


def _semantic_errors(doc: dict) -> Iterator[tuple[tuple, str]]:
    """Yield (path, message) pairs for rules a JSON Schema cannot express."""
    scope = doc.get("scope")
    for key in SCOPE_KINDS if isinstance(scope, dict) else ():
        seen: dict[str, int] = {}
        entries = scope.get(key)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(entry_id, str) and entry_id in seen:
                first = dotted(("scope", key, seen[entry_id]))
                yield ("scope", key, index, "id"), f"duplicate id {entry_id!r} (first at {first})"
            elif isinstance(entry_id, str):
                seen[entry_id] = index
    chaining = doc.get("chaining")
    if isinstance(chaining, dict) and not chaining.get("allowed"):
        depth = chaining.get("max_depth")
        if isinstance(depth, int) and depth > 0:
            yield ("chaining", "max_depth"), "must be 0 when chaining.allowed is false"
    emergency = doc.get("emergency_access")
    if isinstance(emergency, dict) and emergency.get("break_glass") is True:
        if not emergency.get("procedure"):
            yield ("emergency_access", "procedure"), "is required when break_glass is true"
    # A date in the future would pass the kill-switch freshness rule until that date.
    future = _future_test_date(doc.get("kill_switch"))
    if future:
        yield ("kill_switch", "last_tested"), future


def validation_errors(doc: dict) -> dict[str, list[str]]:
    """Return every schema and semantic error of a manifest's plain data, by dotted path."""
    errors: dict[str, list[str]] = {}
    if not _VALIDATOR.is_valid(doc):
        for error in _VALIDATOR.iter_errors(doc):
            for path, message in _explain(error):
                add_error(errors, path, message)
    for path, message in _semantic_errors(doc):
        add_error(errors, path, message)
    return errors
