"""Read a manifest, as YAML or JSON text or as a mapping, into plain JSON data.

Plain data is what JSON parsing gives: dicts with text keys, lists, text,
finite numbers, booleans and None. A YAML date becomes its ISO text and an
integral float an int, so that one scope reads the same whatever its format.
A key repeated within one mapping is refused, and so is text holding NUL or a
lone surrogate (neither can be stored), a value its YAML tag cannot stand for
(``!!int "x"``, the date 2026-02-30), and a document nested more than
MAX_DEPTH levels or holding more than MAX_VALUES values: YAML aliases can make
a short text stand for a huge or endless document, which is refused as soon
as the copy gets past a limit, before it is read in full.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from datetime import date
from typing import Any

import yaml

from approvals.manifest.errors import ManifestError, add_error, dotted
from config.text import LONE_SURROGATE, lone_surrogate_named

MAX_DEPTH = 32
MAX_VALUES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Python writes an int as decimal text of at most this many digits (0: any), and canonical
# JSON writes every int so; a YAML int in hex, binary or base 60 can be longer than its text.
_INT_DIGITS = sys.get_int_max_str_digits()
_INT_BOUND = 10**_INT_DIGITS if _INT_DIGITS else math.inf
# Such an int takes under 4 characters per decimal digit even in binary (leading zeros
# aside). Longer text is refused unread: PyYAML reads base 60 in time growing with its
# length squared.
_INT_TEXT = 4 * _INT_DIGITS or math.inf


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

    def construct_yaml_int(self, node):
        """Construct an int, refusing one too long to be written as decimal text."""
        if len(node.value) > _INT_TEXT:
            raise ValueError(f"it is written with more than {_INT_TEXT} characters")
        value = super().construct_yaml_int(node)
        if abs(value) >= _INT_BOUND:
            raise ValueError(f"written in decimal it has more than {_INT_DIGITS} digits")
        return value

    def construct_object(self, node, deep=False):
        """Construct a node's value, refusing one its tag cannot stand for as a YAML error."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            # PyYAML's scalar constructors let Python's own errors through: int() past its
            # digit limit, a date that does not exist, a tag on text it does not match.
            raise yaml.constructor.ConstructorError(
                None, None, _unreadable(node, exc), node.start_mark
            ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


def _unreadable(node: yaml.Node, exc: Exception) -> str:
    """Say which value could not be read as its tag's type, and why when Python says it plainly."""
    kind = node.tag.rpartition(":")[2]
    why = f": {_reason(exc)}" if type(exc) is ValueError else ""
    if not isinstance(node, yaml.ScalarNode):
        return f"not a valid {kind}{why}"
    shown = node.value if len(node.value) <= 40 else f"{node.value[:40]}..."
    return f"{shown!r} is not a valid {kind}{why}"


def _reason(exc: ValueError) -> str:
    """Return Python's message for bad input without its advice to the programmer ("; use ...")."""
    return str(exc).partition(";")[0]


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
            message = f"invalid JSON: {_reason(exc)}"
        except RecursionError:
            message = f"invalid JSON: nested more than {MAX_DEPTH} levels deep"
        raise ManifestError({"manifest": [message]})
    try:
        loader = _UniqueKeyLoader(data)
    except UnicodeEncodeError as exc:
        where = _line_column(data, exc.start) if isinstance(data, str) else ""
        found = lone_surrogate_named(exc.object[exc.start])
        raise ManifestError({"manifest": [f"invalid YAML: found {found}{where}"]}) from None
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ManifestError({"manifest": [f"invalid YAML: {_yaml_problem(exc)}"]}) from exc
    finally:
        loader.dispose()


def _line_column(text: str, index: int) -> str:
    """Return " (line L, column C)" for a position in ``text``, as YAML errors give it."""
    line_start = text.rfind("\n", 0, index) + 1
    return f" (line {text.count(chr(10), 0, index) + 1}, column {index - line_start + 1})"


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
    for key, item in pairs:
        if mapping and (type(key) is not str or not key.isascii() or "\x00" in key):
            key = _key(key, path, errors)
            if key is None:
                continue
        kind = type(item)
        if kind is str:
            if item.isascii() and "\x00" not in item:  # no surrogate is ASCII
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
    elif "\x00" in key:
        add_error(errors, path, "keys must not contain NUL characters")
    elif surrogate := LONE_SURROGATE.search(key):
        add_error(errors, path, f"keys must not contain {lone_surrogate_named(surrogate.group())}")
    else:
        return str(key)
    return None


def _item(value: Any, path: tuple, errors: dict, budget: list[int]) -> Any:
    """Return a plain copy of any value at ``path``, or None after recording its fault."""
    kind = type(value)
    if kind is dict or kind is list or isinstance(value, Mapping | list | tuple):
        return _copy(value, path, errors, budget)
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL cannot store NUL in text or jsonb; refuse it as invalid input.
            add_error(errors, path, "must not contain NUL characters")
            return None
        if surrogate := LONE_SURROGATE.search(value):
            add_error(errors, path, f"must not contain {lone_surrogate_named(surrogate.group())}")
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
