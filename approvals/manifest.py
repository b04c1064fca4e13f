"""Parse, validate, normalize, digest, risk-rate and diff agent manifests.

A manifest is an agent's declared runtime scope, kept as YAML or JSON in the agent's
own repository (see ``approvals/schema/manifest.schema.json``). This module is pure
Python on purpose: the release gate, the package services and the stdlib-only CI
client all rely on the same rules, so nothing here may import Django.

- ``load_manifest`` parses text, validates it and returns the normalized manifest.
- ``normalize_manifest`` / ``canonical_json`` / ``manifest_digest`` give one stable
  representation and hash per scope, whatever the key order, list order or format.
- ``compute_risk_tier`` / ``risk_tier_reasons`` rate the scope.
- ``diff_manifests`` classifies every change as expansion, narrowing or neutral.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from agents.identity import spiffe_id_errors

SCOPE_KINDS = ("actions", "tools", "datasets", "endpoints", "external_apis")
KIND_BY_KEY = {
    "actions": "action",
    "tools": "tool",
    "datasets": "dataset",
    "endpoints": "endpoint",
    "external_apis": "external_api",
}
KEY_BY_KIND = {kind: key for key, kind in KIND_BY_KEY.items()}
ACCESS_ORDER = {"read": 0, "write": 1, "execute": 2, "admin": 3}
CLASSIFICATION_ORDER = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
BOUNDARY_ORDER = {"internal": 0, "external": 1, "third_party": 2}
RISK_TIERS = ("low", "medium", "high", "critical")
DEPLOYMENT_ORDER = {"internal_copilot": 0, "customer_facing": 1, "regulated_workflow": 2}
CREDENTIAL_METHOD_ORDER = {
    "spiffe_svid": 0,
    "vault_dynamic": 1,
    "oauth_client_credentials": 2,
    "static_secret": 3,
}

EXPANSION, NARROWING, NEUTRAL = "expansion", "narrowing", "neutral"
PACKAGE = "package"

SCHEMA_PATH = Path(__file__).with_name("schema") / "manifest.schema.json"
_SCHEMA: dict = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


class ManifestError(ValueError):
    """Report every problem of a manifest.

    ``errors`` maps a dotted field path (``"scope.actions[1].access"``,
    ``"identity.workload_id"``, or ``"manifest"`` for the document as a whole) to
    human messages saying what is wrong there.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {path: list(messages) for path, messages in errors.items()}
        summary = "; ".join(f"{path}: {msg}" for path, msgs in self.errors.items() for msg in msgs)
        super().__init__(f"invalid manifest: {summary}")


def manifest_schema() -> dict:
    """Return a copy of the manifest JSON Schema (draft 2020-12), e.g. to serve it."""
    return copy.deepcopy(_SCHEMA)


# --------------------------------------------------------------------------- parsing


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_BUILDING = object()


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Load YAML safely, rejecting a key repeated within one mapping.

    On libyaml's parser where PyYAML has it (its wheels do): the same safe
    constructor and resolver, about ten times faster than the pure-Python one,
    which matters on the gate, where CI sends the manifest file's YAML.
    """

    def construct_mapping(self, node, deep=False):
        """Construct the mapping after checking that no key appears twice."""
        if isinstance(node, yaml.MappingNode):
            seen: list = []
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if key_node.tag == _STR_TAG and isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value  # what constructing it would give, for less
                else:
                    key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise _duplicate_key(key, key_node)
                seen.append(key)
        return super().construct_mapping(node, deep=deep)

    def resolve(self, kind, value, implicit):
        """Return the safe resolver's tag, remembered for short text (read, internal, false).

        libyaml asks for every node of every text, and a node's tag depends on
        its kind, text and implicitness alone (this loader has no path resolvers).
        """
        key = (kind, value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if value is None or len(value) <= _RESOLVED_LENGTH:
                if len(_RESOLVED) >= _RESOLVED_SIZE:
                    _RESOLVED.clear()
                _RESOLVED[key] = tag
        return tag

    # libyaml's composer calls these two around every node so that path
    # resolvers can follow the path. This loader has none (a test holds it to
    # that), so both do nothing; as C callables that ignore their arguments, not
    # a Python frame each per node.
    descend_resolver = staticmethod(operator.is_)  # (parent node, index), ignored
    ascend_resolver = staticmethod(tuple)  # (), ignored

    def plain_document(self) -> Any:
        """Return the document, building its maps of text keys, lists and text here.

        That is what a manifest is made of, and the safe constructor's generic
        machinery takes half of the reading's time to build it; every other node
        (numbers, booleans, dates, merge keys, other tags) is built by the safe
        constructor, so the document is the same. Past MAX_DEPTH, or with an
        alias inside the node it names, it is refused.
        """
        node = self.get_single_node()
        return None if node is None else self._plain(node, 0, {})

    def _plain(self, node, depth: int, built: dict) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                return node.value
            build = _SCALARS.get(node.tag)
            return build(self, node) if build else self.construct_object(node)
        value = built.get(node)
        if value is _BUILDING:
            raise yaml.constructor.ConstructorError(
                None, None, "found an alias inside the node it names", node.start_mark
            )
        if value is not None:
            return value  # an alias: the same object, as the safe constructor gives
        if depth == MAX_DEPTH:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"found a node nested more than {MAX_DEPTH} levels deep",
                node.start_mark,
            )
        built[node] = _BUILDING
        # Text, most of a manifest's values, is taken here without a call of its own.
        if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
            value = [
                item.value
                if type(item) is yaml.ScalarNode and item.tag == _STR_TAG
                else self._plain(item, depth + 1, built)
                for item in node.value
            ]
        elif kind is yaml.MappingNode and node.tag == _MAP_TAG and _text_keys(node):
            value = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key in value:
                    raise _duplicate_key(key, key_node)
                if type(value_node) is yaml.ScalarNode and value_node.tag == _STR_TAG:
                    value[key] = value_node.value
                else:
                    value[key] = self._plain(value_node, depth + 1, built)
        else:
            value = self.construct_object(node, deep=True)
        built[node] = value
        return value


# Tags of nodes of short text or none (collections), by (kind, text, implicitness);
# cleared when full.
_RESOLVED: dict[tuple[type, str | None, tuple[bool, bool] | bool], str] = {}
_RESOLVED_LENGTH = 64
_RESOLVED_SIZE = 4096
# The safe constructor's own builders of the scalars a manifest holds besides text.
_SCALARS = {
    f"tag:yaml.org,2002:{name}": _UniqueKeyLoader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
    for name in ("bool", "int", "float", "null")
}


def _duplicate_key(key: Any, key_node) -> yaml.YAMLError:
    return yaml.constructor.ConstructorError(
        None, None, f"found duplicate key {key!r}", key_node.start_mark
    )


def _text_keys(node: yaml.MappingNode) -> bool:
    """Whether every key of the mapping is plain text (no merge key, number or other tag)."""
    for key, _ in node.value:
        if type(key) is not yaml.ScalarNode or key.tag != _STR_TAG:
            return False
    return True


def _yaml_load(data: str | bytes) -> Any:
    """Load a YAML document safely (see _UniqueKeyLoader.plain_document)."""
    loader = _UniqueKeyLoader(data)
    try:
        return loader.plain_document()
    finally:
        loader.dispose()


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """Build a JSON object, rejecting a key repeated within it."""
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Describe a YAML error with its 1-based line and column."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def _parse(data: str | bytes | Mapping, content_type: str | None) -> Any:
    """Parse manifest text as JSON when the content type says so, else as YAML."""
    if isinstance(data, Mapping):
        return data
    if not isinstance(data, str | bytes):
        raise ManifestError({"manifest": ["must be YAML or JSON text, or a mapping"]})
    if content_type and "json" in content_type.lower():
        try:
            return json.loads(data, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        except ValueError as exc:
            message = f"invalid JSON: {exc}"
        except RecursionError:
            message = f"invalid JSON: nested more than {MAX_DEPTH} levels deep"
        raise ManifestError({"manifest": [message]})
    try:
        return _yaml_load(data)
    except yaml.YAMLError as exc:
        raise ManifestError({"manifest": [f"invalid YAML: {_yaml_problem(exc)}"]}) from exc


# A manifest is a few levels deep and a few hundred values long. YAML aliases
# can make a short text stand for a huge or endless document (one alias inside
# another, or inside the node it names): past these it is refused, not read.
MAX_DEPTH = 32
MAX_VALUES = 100_000


class _Budget:
    """The values a manifest may still hold."""

    __slots__ = ("left",)

    def __init__(self):
        self.left = MAX_VALUES


def _json_compatible(value: Any, path: tuple, errors: dict, budget: _Budget) -> Any:
    """Return a JSON-compatible copy: dates become ISO strings, integral floats ints.

    Record non-text keys, non-finite numbers and other non-JSON values in ``errors``;
    raise ManifestError for a document nested or sized past MAX_DEPTH or MAX_VALUES.
    The exact types JSON parsing gives are tested first: every gate check walks a
    manifest through here.
    """
    budget.left -= 1
    if budget.left < 0:
        raise ManifestError(
            {"manifest": [f"holds more than {MAX_VALUES} values (an alias counts each use)"]}
        )
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            # PostgreSQL cannot store NUL in text or jsonb; refuse it as invalid input.
            _add(errors, path, "must not contain NUL characters")
            return None
        return value
    if (kind is dict or kind is list) and len(path) >= MAX_DEPTH:
        raise ManifestError({_dotted(path): [f"is nested more than {MAX_DEPTH} levels deep"]})
    if kind is dict or isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                _add(errors, path, f"keys must be text, found {key!r}")
            elif "\x00" in key:
                _add(errors, path, "keys must not contain NUL characters")
            else:
                result[key] = _json_compatible(item, (*path, key), errors, budget)
        return result
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [_json_compatible(item, (*path, i), errors, budget) for i, item in enumerate(value)]
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isfinite(value):
            return int(value) if value.is_integer() else value
        _add(errors, path, "must be a finite number")
        return None
    if isinstance(value, str):
        return _json_compatible(str(value), path, errors, budget)
    if isinstance(value, int):
        return value
    _add(errors, path, f"has an unsupported value of type {type(value).__name__}")
    return None


class _Irregular(Exception):
    """A value the plain copy does not take; the full walk converts it or names its fault."""


def _plain_copy(value: dict | list, depth: int, budget: list[int]) -> dict | list:
    """Copy a dict or list holding only JSON's own types, or raise _Irregular.

    JSON's own types: text without NUL, finite numbers (integral floats become
    ints, as in _json_compatible), booleans and null, in dicts with text keys
    and lists, within MAX_DEPTH and MAX_VALUES. What JSON parsing gives, and
    most YAML, is copied here without the full walk's path for every value.
    """
    if depth >= MAX_DEPTH:
        raise _Irregular
    budget[0] -= len(value)
    if budget[0] < 0:
        raise _Irregular
    if type(value) is list:
        return [
            item if type(item) is str and "\x00" not in item else _plain_item(item, depth, budget)
            for item in value
        ]
    result = {}
    for key, item in value.items():
        if type(key) is not str or "\x00" in key:
            raise _Irregular
        if type(item) is str and "\x00" not in item:
            result[key] = item
        else:
            result[key] = _plain_item(item, depth, budget)
    return result


def _plain_item(item: Any, depth: int, budget: list[int]) -> Any:
    """Copy one value of a dict or list for _plain_copy, or raise _Irregular."""
    kind = type(item)
    if kind is dict or kind is list:
        return _plain_copy(item, depth + 1, budget)
    if kind is int or kind is bool or item is None:
        return item
    if kind is float and math.isfinite(item):
        return int(item) if item.is_integer() else item
    raise _Irregular


def _jsonable_or_raise(doc: Any) -> Any:
    """Return ``_json_compatible(doc)``, raising ManifestError if anything cannot convert."""
    if type(doc) is dict:
        try:
            return _plain_copy(doc, 0, [MAX_VALUES - 1])
        except _Irregular:
            pass  # the full walk below converts it, or says what is wrong and where
    errors: dict[str, list[str]] = {}
    result = _json_compatible(doc, (), errors, _Budget())
    if errors:
        raise ManifestError(errors)
    return result


# ------------------------------------------------------------------------ validation


def _dotted(path: tuple | list) -> str:
    """Render a JSON path as ``scope.actions[1].access`` (``manifest`` for the root)."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "manifest"


def _add(errors: dict | None, path: tuple | str, message: str) -> None:
    """Record ``message`` under ``path`` once."""
    if errors is None:
        return
    messages = errors.setdefault(path if isinstance(path, str) else _dotted(path), [])
    if message not in messages:
        messages.append(message)


@cache
def _ecma_regex(pattern: str) -> re.Pattern:
    """Compile a schema pattern so that a final ``$`` matches only at the very end, as in ECMA."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern_keyword(validator, pattern, instance, schema):
    """Check the ``pattern`` keyword with ECMA-262 end-of-input semantics."""
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = extend(Draft202012Validator, {"pattern": _pattern_keyword})
# Two validators of the same schema: jsonschema-rs (Rust, ECMA-262 patterns as the
# schema means them) decides whether a manifest is valid, in about a hundredth of
# the time, which matters on the gate, where every check validates a manifest;
# the Python one walks an invalid manifest to say what is wrong, field by field.
_VALIDATOR = _Validator(_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
_FAST_VALIDATOR = jsonschema_rs.validator_for(_SCHEMA, validate_formats=True)

_PATTERN_EXPLAINERS: dict[str, Callable[[str], list[str]]] = {
    _SCHEMA["$defs"]["spiffe_id"]["pattern"]: spiffe_id_errors,
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


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))
_JSON_TYPES += ((list, "array"), (dict, "object"))


def _type_of(value: Any) -> str:
    """Name the JSON type of ``value`` for a message."""
    names = (name for python_type, name in _JSON_TYPES if isinstance(value, python_type))
    return _TYPE_NAMES[next(names, "null")]


def _type_message(error: ValidationError) -> list[str]:
    """Explain a ``type`` failure."""
    expected = error.validator_value
    names = [_TYPE_NAMES[t] for t in ([expected] if isinstance(expected, str) else expected)]
    names = [n for n in names if n != "null"] or names
    return [f"must be {' or '.join(names)}, not {_type_of(error.instance)}"]


def _enum_message(error: ValidationError) -> list[str]:
    """Explain an ``enum`` failure."""
    allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
    return [f"must be one of: {allowed} (got {error.instance!r})"]


def _pattern_message(error: ValidationError) -> list[str]:
    """Explain a ``pattern`` failure, in detail where an explainer exists."""
    explain = _PATTERN_EXPLAINERS.get(error.validator_value)
    problems = explain(error.instance) if explain else []
    if problems:
        return problems
    description = error.schema.get("description")
    if description:
        return [description[0].lower() + description[1:].rstrip(".")]
    return [f"must match the pattern {error.validator_value}"]


_MESSAGES: dict[str, Callable[[ValidationError], list[str]]] = {
    "type": _type_message,
    "enum": _enum_message,
    "pattern": _pattern_message,
    "minimum": lambda e: [f"must be at least {e.validator_value}"],
    "maximum": lambda e: [f"must be at most {e.validator_value}"],
    "minItems": lambda e: [f"must list at least {e.validator_value} item(s)"],
    "maxLength": lambda e: [f"must be at most {e.validator_value} characters long"],
    "uniqueItems": lambda e: ["must not list the same item twice"],
    "format": lambda e: [f"must be a valid {e.validator_value} (got {e.instance!r})"],
}


def _explain(error: ValidationError) -> Iterator[tuple[tuple, str]]:
    """Yield (path, message) pairs for one jsonschema error, on the offending child's path."""
    path = tuple(error.absolute_path)
    if error.validator == "required":
        for name in error.validator_value:
            if name not in error.instance:
                yield (*path, name), "is required"
    elif error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for name in error.instance:
            if name not in known:
                yield (
                    (*path, name),
                    f"is not an allowed field (expected one of: {', '.join(known)})",
                )
    else:
        for message in _MESSAGES.get(error.validator, lambda e: [e.message])(error):
            yield path, message


def _semantic_errors(doc: dict) -> Iterator[tuple[tuple, str]]:
    """Yield (path, message) pairs for rules a JSON Schema cannot express."""
    scope = doc.get("scope")
    for key in SCOPE_KINDS if isinstance(scope, dict) else ():
        seen: dict[str, int] = {}
        entries = scope.get(key)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(entry_id, str) and entry_id in seen:
                first = _dotted(("scope", key, seen[entry_id]))
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


def validation_errors(doc: dict) -> dict[str, list[str]]:
    """Return every schema and semantic error of a JSON-compatible manifest, by dotted path."""
    errors: dict[str, list[str]] = {}
    if not _FAST_VALIDATOR.is_valid(doc):
        for error in _VALIDATOR.iter_errors(doc):
            for path, message in _explain(error):
                _add(errors, path, message)
        if not errors:
            # Where the two disagree (a whitespace class of a pattern, say), the
            # deciding validator's own words.
            for error in _FAST_VALIDATOR.iter_errors(doc):
                _add(errors, tuple(error.instance_path), error.message)
    for path, message in _semantic_errors(doc):
        _add(errors, path, message)
    return errors


def load_manifest(data: str | bytes | dict, content_type: str | None = None) -> dict:
    """Parse, validate and normalize a manifest given as YAML/JSON text or a mapping.

    Raise ManifestError carrying every problem found, not only the first.
    """
    doc = _parse(data, content_type)
    if doc is None:
        raise ManifestError({"manifest": ["is empty"]})
    if not isinstance(doc, Mapping):
        raise ManifestError({"manifest": [f"must be a mapping, not {_type_of(doc)}"]})
    doc = _jsonable_or_raise(doc)
    errors = validation_errors(doc)
    if errors:
        raise ManifestError(errors)
    return _normalize_in_place(doc)


# --------------------------------------------------------------------- normalization


def _resolve(schema: dict) -> dict:
    """Merge a local ``$ref`` target with the keywords beside the reference."""
    if "$ref" not in schema:
        return schema
    target = _SCHEMA
    for part in schema["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in schema.items() if k != "$ref"}}


def _defaults_tree(schema: dict) -> tuple[dict, dict, Any] | None:
    """Return the schema reduced to what filling defaults reads, references resolved.

    A node is (defaults by property, child nodes by property, node of the items);
    built once, so filling a manifest walks no ``$ref``, nor any part of it
    where there is no default to fill (such a node is None).
    """
    schema = _resolve(schema)
    defaults, children = {}, {}
    for key, child in schema.get("properties", {}).items():
        child = _resolve(child)
        if "default" in child:
            defaults[key] = child["default"]
        node = _defaults_tree(child)
        if node is not None:
            children[key] = node
    items = _defaults_tree(schema["items"]) if isinstance(schema.get("items"), dict) else None
    return (defaults, children, items) if defaults or children or items else None


_DEFAULTS = _defaults_tree(_SCHEMA)


def _fill_defaults(value: Any, node: tuple[dict, dict, Any]) -> Any:
    """Fill the schema's ``default`` values into ``value``, through objects and arrays."""
    defaults, children, items = node
    if isinstance(value, dict):
        for key, default in defaults.items():
            if key not in value:
                value[key] = copy.deepcopy(default) if isinstance(default, dict | list) else default
        for key, child in children.items():
            if key in value:
                value[key] = _fill_defaults(value[key], child)
    elif isinstance(value, list) and items is not None:
        return [_fill_defaults(item, items) for item in value]
    return value


def _entry_id(entry: Any) -> str:
    """Return a scope entry's id as text, as entries are ordered by it."""
    return str(entry.get("id") if isinstance(entry, dict) else None)


def _entry_sort_key(entry: Any) -> tuple[str, str]:
    """Order scope entries by id, then by content so that even duplicates sort stably."""
    return _entry_id(entry), canonical_json(entry)


def _sorted_entries(entries: list) -> list:
    """Return the entries in _entry_sort_key's order; by id alone when no two share one."""
    ids = {_entry_id(entry) for entry in entries}
    return sorted(entries, key=_entry_id if len(ids) == len(entries) else _entry_sort_key)


def normalize_manifest(doc: dict) -> dict:
    """Return a copy of ``doc`` with every default filled in and lists in canonical order.

    Every scope kind is present, optional blocks carry their defaults and optional
    scalars are None when absent, so normalized manifests always share one key set.
    """
    return _normalize_in_place(_jsonable_or_raise(doc))


def _normalize_in_place(doc: dict) -> dict:
    """Normalize a JSON-compatible copy of a manifest that nothing else holds."""
    normalized = _fill_defaults(doc, _DEFAULTS)
    scope = normalized.get("scope")
    if isinstance(scope, dict):
        for key in SCOPE_KINDS:
            if isinstance(scope.get(key), list):
                scope[key] = _sorted_entries(scope[key])
    logging = normalized.get("logging")
    if isinstance(logging, dict) and isinstance(logging.get("destinations"), list):
        logging["destinations"] = sorted(logging["destinations"], key=canonical_json)
    return normalized


def canonical_json(doc: Any) -> str:
    """Serialize ``doc`` canonically: sorted keys, no whitespace, UTF-8 text kept as is."""
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


# What makes a manifest's text mean what it means here: the schema, this module
# (parsing and normalization) and the YAML library. A source digest includes it,
# so changing any of them makes every stored source digest stale (the text is
# parsed again), never wrong.
_SOURCE_FINGERPRINT = hashlib.sha256(
    SCHEMA_PATH.read_bytes() + Path(__file__).read_bytes() + yaml.__version__.encode()
).hexdigest()


def source_digest(source: Any, content_type: str | None = None) -> str:
    """Return the digest of a manifest as sent: its text, or a mapping's canonical JSON.

    Two equal source digests are the same text read the same way, or the same
    JSON object, so the same normalized manifest: the gate knows what an
    approved version was created from without reading it again. "" when there
    is nothing to digest (a mapping that is not plain JSON).
    """
    if isinstance(source, str):
        kind = "json" if content_type and "json" in content_type.lower() else "yaml"
        text = source
    elif isinstance(source, Mapping):
        kind = "object"
        try:
            text = canonical_json(source)
        except (TypeError, ValueError, RecursionError):
            return ""  # not plain JSON (dates, NaN, keys of mixed types) or deeper than the stack
    else:
        return ""
    return hashlib.sha256(f"{_SOURCE_FINGERPRINT}\n{kind}\n{text}".encode()).hexdigest()


def manifest_digest(doc: dict) -> str:
    """Return the hex SHA-256 of the canonical JSON of the normalized manifest."""
    return normalized_digest(normalize_manifest(doc))


def normalized_digest(normalized: dict) -> str:
    """Return ``manifest_digest`` of a manifest ``normalize_manifest`` already returned."""
    return text_digest(canonical_json(normalized))


def text_digest(canonical: str) -> str:
    """Return the digest of a normalized manifest from its ``canonical_json``."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _iter_entries(doc: dict) -> Iterator[tuple[str, dict]]:
    """Yield (singular kind, entry) for every scope entry of a normalized manifest."""
    for key in SCOPE_KINDS:
        for entry in doc["scope"][key]:
            yield KIND_BY_KEY[key], entry


# ----------------------------------------------------------------------------- risk

_TIER_RANK = {tier: rank for rank, tier in enumerate(RISK_TIERS)}
_KIND_LABELS = {**{kind: kind for kind in KIND_BY_KEY.values()}, "external_api": "external API"}
_MONEY_WORDS = re.compile(r"refund|payment|payout|transfer", re.IGNORECASE)
_LOW_REASON = (
    "Every entry is read-only, stays inside the internal boundary and touches no "
    "confidential or restricted data, and the agent is an internal copilot."
)


@dataclass(frozen=True)
class _Risk:
    """A risk factor: the tier it implies, when it applies, and why (a format template)."""

    tier: str
    applies: Callable[..., bool]
    reason: str


def _moves_money(kind: str, entry: dict, doc: dict) -> bool:
    """Tell whether an action or endpoint can move money (refund, payment, payout, transfer)."""
    text = entry["id"] + canonical_json(entry["constraints"])
    return (
        kind in ("action", "endpoint")
        and entry["access"] in ("write", "execute")
        and bool(_MONEY_WORDS.search(text))
    )


def _outward(entry: dict) -> bool:
    """Tell whether an entry crosses an external or third-party trust boundary."""
    return entry["trust_boundary"] != "internal"


_ENTRY_RISKS = (
    _Risk("critical", lambda k, e, d: e["privileged"], "{kind} {id} is privileged"),
    _Risk("critical", lambda k, e, d: e["access"] == "admin", "{kind} {id} has admin access"),
    _Risk("critical", _moves_money, "{kind} {id} can move money ({access} access)"),
    _Risk(
        "critical",
        lambda k, e, d: _outward(e) and e["access"] != "read",
        "{kind} {id} has {access} access across the {trust_boundary} boundary",
    ),
    _Risk("high", lambda k, e, d: _outward(e), "{kind} {id} crosses the {trust_boundary} boundary"),
    _Risk(
        "high",
        lambda k, e, d: e["classification"] == "restricted",
        "{kind} {id} touches restricted data",
    ),
    _Risk("high", lambda k, e, d: e["access"] == "execute", "{kind} {id} has execute access"),
    _Risk(
        "high",
        lambda k, e, d: (
            d["deployment"] == "customer_facing" and e["access"] in ("write", "execute")
        ),
        "the customer-facing agent has {access} access to {kind} {id}",
    ),
    _Risk("medium", lambda k, e, d: e["access"] == "write", "{kind} {id} has write access"),
    _Risk(
        "medium",
        lambda k, e, d: e["classification"] == "confidential",
        "{kind} {id} touches confidential data",
    ),
)
_MANIFEST_RISKS = (
    _Risk(
        "critical",
        lambda d: d["deployment"] == "regulated_workflow",
        "the agent runs a regulated workflow",
    ),
    _Risk(
        "critical",
        lambda d: d["emergency_access"]["break_glass"],
        "emergency break-glass access is enabled",
    ),
    _Risk(
        "high",
        lambda d: d["chaining"]["allowed"],
        "tool chaining is allowed (max depth {chaining[max_depth]})",
    ),
    _Risk("medium", lambda d: d["deployment"] == "customer_facing", "the agent is customer-facing"),
)


def _sentence(text: str) -> str:
    """Capitalize ``text`` and end it with a full stop."""
    return text[0].upper() + text[1:] + "."


def _risk_findings(doc: dict) -> list[tuple[str, str]]:
    """Return (tier, reason) for every risk factor of a normalized manifest."""
    findings = [
        (r.tier, _sentence(r.reason.format(**doc))) for r in _MANIFEST_RISKS if r.applies(doc)
    ]
    for kind, entry in _iter_entries(doc):
        fields = {**entry, "kind": _KIND_LABELS[kind]}
        findings += [
            (r.tier, _sentence(r.reason.format(**fields)))
            for r in _ENTRY_RISKS
            if r.applies(kind, entry, doc)
        ]
    return findings


def _highest(tiers: list[str]) -> str:
    """Return the highest of ``tiers`` (low when there are none)."""
    return max(tiers, key=_TIER_RANK.__getitem__, default="low")


def compute_risk_tier(doc: dict) -> str:
    """Return the effective risk tier: the computed one, raised by a higher declared tier."""
    normalized = normalize_manifest(doc)
    computed = _highest([tier for tier, _ in _risk_findings(normalized)])
    return _highest([computed, normalized["risk_tier"] or "low"])


def risk_tier_reasons(doc: dict) -> list[str]:
    """Return sentences explaining the risk tier: the factors that set it, and any raise."""
    normalized = normalize_manifest(doc)
    findings = _risk_findings(normalized)
    computed = _highest([tier for tier, _ in findings])
    reasons = [reason for tier, reason in findings if tier == computed] or [_LOW_REASON]
    declared = normalized["risk_tier"]
    if declared and _TIER_RANK[declared] > _TIER_RANK[computed]:
        reasons.append(f"The declared risk tier {declared} raises the computed tier {computed}.")
    return reasons


# ----------------------------------------------------------------------------- diff

Rank = Callable[[Any], Any]
_MISSING = object()


def _ordered(*values: Any) -> Rank:
    """Rank values by their position in ``values``; an unknown value is incomparable (None)."""
    return {value: position for position, value in enumerate(values)}.get


def _number(value: Any) -> float | None:
    """Rank a number by size; anything else is incomparable (None)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _amount(value: Any) -> float | None:
    """Rank a limit by size; None (no limit set) ranks above every number."""
    return math.inf if value is None else _number(value)


def _same_rank(value: Any) -> int:
    """Give every value one rank, so that any change counts as an expansion."""
    return 0


# Per field, how to rank its values: moving up a rank is an expansion, down a narrowing,
# sideways (a different value of equal or incomparable rank) an expansion. None is neutral.
_ENTRY_RULES: dict[str, Rank | None] = {
    "access": ACCESS_ORDER.get,
    "trust_boundary": BOUNDARY_ORDER.get,
    "classification": CLASSIFICATION_ORDER.get,
    "privileged": _ordered(False, True),
    "justification": None,
}
_PACKAGE_RULES: dict[str, Rank | None] = {
    "agent": _same_rank,
    "deployment": DEPLOYMENT_ORDER.get,
    "identity.workload_id": _same_rank,
    "identity.log_principal": _same_rank,
    "model.provider": _same_rank,
    "model.id": _same_rank,
    "model.prompt_digest": _same_rank,
    "credentials.method": CREDENTIAL_METHOD_ORDER.get,
    "credentials.max_ttl_seconds": _amount,
    "credentials.jit": _ordered(True, False),
    "enforcement.point": lambda value: int(value == "none"),
    "enforcement.engine": lambda value: int(value == "none"),
    "enforcement.mode": _ordered("enforce", "monitor"),
    "chaining.allowed": _ordered(False, True),
    "chaining.max_depth": _amount,
    "human_in_the_loop.writes": _ordered(True, False),
    "human_in_the_loop.privileged": _ordered(True, False),
    "kill_switch.max_minutes_to_revoke": _amount,
    "kill_switch.webhook": lambda value: int(value is None),
    "logging.retention_days": lambda value: -value,
    "emergency_access.break_glass": _ordered(False, True),
    "approval_valid_days": _amount,
    **dict.fromkeys(
        (
            "name",
            "team",
            "description",
            "risk_tier",
            "justification",
            "credentials.revocation",
            "kill_switch.procedure",
            "kill_switch.owner",
            "kill_switch.last_tested",
            "rollback.plan",
            "logging.attribution",
            "emergency_access.procedure",
        )
    ),
}
_DESTINATIONS = "logging.destinations"


def _classify(old: Any, new: Any, rank: Rank | None) -> str:
    """Classify a change from ``old`` to ``new`` by rank; unknown fields rank conservatively."""
    if rank is None:
        return NEUTRAL
    before, after = rank(old), rank(new)
    if before is None or after is None or before == after:
        return EXPANSION
    return EXPANSION if after > before else NARROWING


@dataclass(frozen=True)
class Change:
    """One changed entry or field between two manifests, and how it moves the scope."""

    kind: str
    identifier: str
    field: str
    change: str
    old: object
    new: object
    classification: str
    message: str

    def as_dict(self) -> dict:
        """Return the change as a JSON-compatible dict."""
        return asdict(self)


@dataclass(frozen=True)
class ScopeDiff:
    """Every change between two manifests, in a deterministic order."""

    changes: tuple[Change, ...]

    def _of(self, classification: str) -> tuple[Change, ...]:
        """Return the changes with one classification."""
        return tuple(c for c in self.changes if c.classification == classification)

    @property
    def expansions(self) -> tuple[Change, ...]:
        """Return the changes that widen the scope."""
        return self._of(EXPANSION)

    @property
    def narrowings(self) -> tuple[Change, ...]:
        """Return the changes that shrink the scope."""
        return self._of(NARROWING)

    @property
    def neutral(self) -> tuple[Change, ...]:
        """Return the changes that leave the scope as it was (text, notes)."""
        return self._of(NEUTRAL)

    @property
    def is_expansion(self) -> bool:
        """Tell whether any change widens the scope (a full review is needed)."""
        return bool(self.expansions)

    @property
    def is_pure_narrowing(self) -> bool:
        """Tell whether there are changes and every one of them shrinks the scope."""
        return bool(self.changes) and all(c.classification == NARROWING for c in self.changes)

    @property
    def is_empty(self) -> bool:
        """Tell whether nothing changed at all."""
        return not self.changes

    def as_dict(self) -> dict:
        """Return the diff as a JSON-compatible dict, grouped by classification."""
        return {
            "expansions": [c.as_dict() for c in self.expansions],
            "narrowings": [c.as_dict() for c in self.narrowings],
            "neutral": [c.as_dict() for c in self.neutral],
            "is_expansion": self.is_expansion,
            "is_pure_narrowing": self.is_pure_narrowing,
        }


def _show(value: Any) -> str:
    """Render a value briefly for a change message."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    else:
        text = value if isinstance(value, str) else canonical_json(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _change(kind, identifier, field, change, old, new, classification) -> Change:
    """Build a Change and its human message."""
    subject = identifier if kind == PACKAGE else f"{_KIND_LABELS[kind]} {identifier}"
    label = "" if field in ("entry", "value") else f"{field} "
    detail = {
        "added": "added" if field == "entry" else f"set to {_show(new)}",
        "removed": "removed" if field == "entry" else f"removed (was {_show(old)})",
        "changed": f"{_show(old)} -> {_show(new)}",
    }[change]
    message = f"{subject}: {label}{detail} ({classification})"
    return Change(kind, identifier, field, change, old, new, classification, message)


def _label(old: Any, new: Any) -> str:
    """Name a change of an optional value: added, removed or changed."""
    return "added" if old is None else "removed" if new is None else "changed"


def _constraint_changes(kind: str, ident: str, old: dict, new: dict) -> Iterator[Change]:
    """Yield one change per constraint key added (narrowing), removed or changed."""
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        field = f"constraints.{key}"
        if before is _MISSING:
            yield _change(kind, ident, field, "added", None, after, NARROWING)
        elif after is _MISSING:
            yield _change(kind, ident, field, "removed", before, None, EXPANSION)
        elif before != after:
            classification = _classify(before, after, _number)
            yield _change(kind, ident, field, "changed", before, after, classification)


def _entry_changes(old_doc: dict, new_doc: dict) -> Iterator[Change]:
    """Yield the changes between the scope entries of two normalized manifests."""
    if old_doc["scope"] == new_doc["scope"]:
        return  # the usual gate check: the approved scope, other text around it
    before = {(kind, entry["id"]): entry for kind, entry in _iter_entries(old_doc)}
    after = {(kind, entry["id"]): entry for kind, entry in _iter_entries(new_doc)}
    for kind, ident in sorted(before.keys() | after.keys()):
        old, new = before.get((kind, ident)), after.get((kind, ident))
        if old is None:
            yield _change(kind, ident, "entry", "added", None, new, EXPANSION)
        elif new is None:
            yield _change(kind, ident, "entry", "removed", old, None, NARROWING)
        elif old != new:
            yield from _constraint_changes(kind, ident, old["constraints"], new["constraints"])
            for field in sorted((old.keys() | new.keys()) - {"id", "constraints"}):
                if old.get(field) != new.get(field):
                    rank = _ENTRY_RULES.get(field, _same_rank)
                    classification = _classify(old.get(field), new.get(field), rank)
                    yield _change(
                        kind,
                        ident,
                        field,
                        "changed",
                        old.get(field),
                        new.get(field),
                        classification,
                    )


def _package_fields(doc: dict, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Flatten the fields outside ``scope`` (only ``keys``, if given) to ``{"a.b": value}``."""
    fields: dict[str, Any] = {}

    def flatten(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                flatten(item, f"{prefix}.{key}" if prefix else key)
        else:
            fields[prefix] = value

    keys = doc if keys is None else keys
    flatten({k: doc[k] for k in keys if k != "scope" and k in doc}, "")
    return fields


def _destination_changes(old: list, new: list, added: str) -> Iterator[Change]:
    """Yield a change per log destination removed (expansion) or added (``added``)."""
    for name in sorted(set(old) - set(new)):
        yield _change(
            PACKAGE, f"{_DESTINATIONS}[{name}]", "entry", "removed", name, None, EXPANSION
        )
    for name in sorted(set(new) - set(old)):
        yield _change(PACKAGE, f"{_DESTINATIONS}[{name}]", "entry", "added", None, name, added)


def _package_changes(old_doc: dict, new_doc: dict) -> Iterator[Change]:
    """Yield the changes between the non-scope fields of two normalized manifests.

    Only the top-level fields that differ are flattened and compared: equal ones
    hold no change.
    """
    differ = [
        key
        for key in old_doc.keys() | new_doc.keys()
        if key != "scope" and old_doc.get(key, _MISSING) != new_doc.get(key, _MISSING)
    ]
    if not differ:
        return
    before, after = _package_fields(old_doc, differ), _package_fields(new_doc, differ)
    yield from _destination_changes(
        before.pop(_DESTINATIONS, None) or [], after.pop(_DESTINATIONS, None) or [], NEUTRAL
    )
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old != new:
            classification = _classify(old, new, _PACKAGE_RULES.get(path, _same_rank))
            yield _change(PACKAGE, path, "value", _label(old, new), old, new, classification)


def _first_version_changes(doc: dict) -> Iterator[Change]:
    """Yield every entry and set field of a first version as an added expansion."""
    for kind, entry in _iter_entries(doc):
        yield _change(kind, entry["id"], "entry", "added", None, entry, EXPANSION)
    fields = _package_fields(doc)
    yield from _destination_changes([], fields.pop(_DESTINATIONS, None) or [], EXPANSION)
    for path, value in sorted(fields.items()):
        if value is not None:
            yield _change(PACKAGE, path, "value", "added", None, value, EXPANSION)


def diff_manifests(old: dict | None, new: dict) -> ScopeDiff:
    """Diff two manifests (normalizing both); with no ``old``, everything is an expansion.

    Entries are matched by (kind, id). Every changed field yields exactly one Change,
    sorted by (kind, identifier, field).
    """
    return diff_normalized(
        None if old is None else normalize_manifest(old), normalize_manifest(new)
    )


def diff_normalized(old_doc: dict | None, new_doc: dict) -> ScopeDiff:
    """Return ``diff_manifests`` of manifests ``normalize_manifest`` already returned."""
    if old_doc is None:
        changes = list(_first_version_changes(new_doc))
    else:
        changes = [*_entry_changes(old_doc, new_doc), *_package_changes(old_doc, new_doc)]
    changes.sort(key=lambda c: (c.kind, c.identifier, c.field))
    return ScopeDiff(tuple(changes))
