"""Read a manifest, as YAML or JSON text or as a mapping, into plain JSON data.

Plain data is what JSON parsing gives: dicts with text keys, lists, text,
finite numbers, booleans and None. A YAML date becomes its ISO text and an
integral float an int, so that one scope reads the same whatever its format.
A key repeated within one mapping is refused, and so is a document nested
more than MAX_DEPTH levels or holding more than MAX_VALUES values: YAML
aliases can make a short text stand for a huge or endless document, which is
refused as soon as the copy gets past a limit, before it is read in full.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import yaml

from approvals.manifest.errors import ManifestError, add_error, dotted

MAX_DEPTH = 32
MAX_VALUES = 100_000
# Characters PostgreSQL cannot store in text or jsonb: NUL, and a lone surrogate (no UTF-8
# encodes one, but a JSON escape such as \ud800 gives it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.CSafeLoader):
    """Load YAML as PyYAML's safe loader does on libyaml, refusing a key repeated in a mapping."""

    def construct_mapping(self, node, deep=False):
        """Construct the mapping, then refuse it if one of its own keys appears twice."""
        pairs = list(node.value) if isinstance(node, yaml.MappingNode) else []
        mapping = super().construct_mapping(node, deep=deep)
        # Fewer keys than pairs: a key repeated, or one given again after a merge (<<).
        if len(mapping) < len(node.value):
            seen = set()
            for key_node, _ in pairs:
                if key_node.tag != _MERGE_TAG:
                    key = self.construct_object(key_node, deep=deep)  # built already: remembered
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"found duplicate key {key!r}", key_node.start_mark
                        )
                    seen.add(key)
        return mapping


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """Build a JSON object, refusing a key repeated within it."""
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


def _parse(data: str | bytes, content_type: str | None) -> Any:
    """Parse text as JSON when the content type says so, else as YAML (a superset of JSON)."""
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
    loader = _UniqueKeyLoader(data)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ManifestError({"manifest": [f"invalid YAML: {_yaml_problem(exc)}"]}) from exc
    finally:
        loader.dispose()


def read_document(data: str | bytes | Mapping, content_type: str | None = None) -> dict:
    """Return a manifest's plain data, from YAML or JSON text or from a mapping (copied).

    JSON text needs a content type that says JSON; any other text is read as
    YAML. Raise ManifestError naming every fault: text that does not parse, a
    document that is not a mapping, a key that is not text, a value JSON
    cannot hold, a document past the limits.
    """
    if isinstance(data, str | bytes):
        doc = _parse(data, content_type)
    elif isinstance(data, Mapping):
        doc = data
    else:
        raise ManifestError({"manifest": ["must be YAML or JSON text, or a mapping"]})
    if doc is None:
        raise ManifestError({"manifest": ["is empty"]})
    if not isinstance(doc, Mapping):
        raise ManifestError({"manifest": [f"must be a mapping, not {type_name(doc)}"]})
    errors: dict[str, list[str]] = {}
    budget = [MAX_VALUES - 1]  # the values the document may hold besides its root
    result = _copy(doc, (), errors, budget)
    if errors:
        raise ManifestError(errors)
    return result


def _copy(value: Mapping | list | tuple, path: tuple, errors: dict, budget: list[int]):
    """Return a plain copy of a mapping or list at ``path``; record each fault in ``errors``.

    JSON's own types, most of a manifest, are told apart in the loop by their
    exact type; anything else, and a fault's path, takes a call of its own.
    """
    if len(path) >= MAX_DEPTH:
        raise ManifestError({dotted(path): [f"is nested more than {MAX_DEPTH} levels deep"]})
    budget[0] -= len(value)
    if budget[0] < 0:
        raise ManifestError(
            {"manifest": [f"holds more than {MAX_VALUES} values (an alias counts each use)"]}
        )
    mapping = type(value) is dict or not isinstance(value, list | tuple)
    if mapping:
        pairs, result = value.items(), {}
    else:
        pairs, result = enumerate(value), [None] * len(value)
    # Text is storable when _UNSTORABLE finds nothing in it; ASCII text without NUL, most of
    # a manifest, is told so without the search.
    for key, item in pairs:
        if mapping and not (
            type(key) is str
            and ((key.isascii() and "\x00" not in key) or not _UNSTORABLE.search(key))
        ):
            key = _key(key, path, errors)
            if key is None:
                continue
        kind = type(item)
        if kind is str:
            if (item.isascii() and "\x00" not in item) or not _UNSTORABLE.search(item):
                result[key] = item
                continue
        elif kind is int or kind is bool or item is None:
            result[key] = item
            continue
        elif kind is dict or kind is list:
            result[key] = _copy(item, (*path, key), errors, budget)
            continue
        result[key] = _item(item, (*path, key), errors, budget)
    return result


def _key(key: Any, path: tuple, errors: dict) -> str | None:
    """Return a mapping's key as plain text, or None after recording why it cannot be one."""
    if not isinstance(key, str):
        add_error(errors, path, f"keys must be text, found {key!r}")
    elif fault := _unstorable(key):
        add_error(errors, path, f"keys must not contain {fault}")
    else:
        return str(key)
    return None


def _unstorable(text: str) -> str | None:
    """Return which characters of the text PostgreSQL cannot store, or None when it can."""
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    return "NUL characters" if match.group() == "\x00" else "surrogate characters"


def _item(value: Any, path: tuple, errors: dict, budget: list[int]) -> Any:
    """Return a plain copy of any value at ``path``, or None after recording its fault."""
    kind = type(value)
    if kind is dict or kind is list or isinstance(value, Mapping | list | tuple):
        return _copy(value, path, errors, budget)
    if isinstance(value, str):
        if fault := _unstorable(value):
            add_error(errors, path, f"must not contain {fault}")
            return None
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return int(value) if value.is_integer() else float(value)
        add_error(errors, path, "must be a finite number")
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, date):
        return value.isoformat()
    add_error(errors, path, f"has an unsupported value of type {type(value).__name__}")
    return None


_TYPE_NAMES = (
    (bool, "true or false"),
    (int, "a whole number"),
    (float, "a number"),
    (str, "text"),
    (list, "a list"),
    (Mapping, "a mapping"),
)


def type_name(value: Any) -> str:
    """Name the JSON type of ``value`` for a message ("a mapping", "text", ...)."""
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "null")
