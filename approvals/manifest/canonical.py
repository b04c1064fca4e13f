"""One representation of a manifest: load it, fill its defaults, order it, serialize and digest it.

Two manifests that declare the same scope, whatever their format, key order
or list order, normalize to the same data, the same canonical JSON and the
same digest.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from approvals.manifest.errors import ManifestError
from approvals.manifest.reading import read_document
from approvals.manifest.schema import SCHEMA, SCHEMA_PATH, resolve, validation_errors
from approvals.manifest.scope import SCOPE_KINDS


def load_manifest(data: str | bytes | Mapping, content_type: str | None = None) -> dict:
    """Read, validate and normalize a manifest given as YAML or JSON text or as a mapping.

    Raise ManifestError carrying every problem found, not only the first.
    """
    doc = read_document(data, content_type)
    errors = validation_errors(doc)
    if errors:
        raise ManifestError(errors)
    return _normalize_in_place(doc)


def normalize_manifest(doc: Mapping) -> dict:
    """Return a copy of ``doc`` with every default filled in and lists in canonical order.

    Every scope kind is present, optional blocks carry their defaults and optional
    scalars are None when absent, so normalized manifests always share one key set.
    Raise ManifestError if ``doc`` holds what JSON cannot.
    """
    return _normalize_in_place(read_document(doc))


def _defaults_tree(schema: dict) -> tuple[dict, dict, Any] | None:
    """Return the schema reduced to what filling defaults reads, references resolved.

    A node is (defaults by property, child nodes by property, node of the items);
    built once, so filling a manifest walks no ``$ref``, nor any part of it
    where there is no default to fill (such a node is None).
    """
    schema = resolve(schema)
    defaults, children = {}, {}
    for key, child in schema.get("properties", {}).items():
        child = resolve(child)
        if "default" in child:
            defaults[key] = child["default"]
        node = _defaults_tree(child)
        if node is not None:
            children[key] = node
    items = _defaults_tree(schema["items"]) if isinstance(schema.get("items"), dict) else None
    return (defaults, children, items) if defaults or children or items else None


_DEFAULTS = _defaults_tree(SCHEMA)


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


def _normalize_in_place(doc: dict) -> dict:
    """Normalize a manifest's plain data that nothing else holds."""
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


def text_digest(canonical: str) -> str:
    """Return a manifest's digest from its canonical JSON: the text's hex SHA-256.

    ``canonical`` is what ``canonical_json`` gives for a manifest that
    ``load_manifest`` or ``normalize_manifest`` returned, so one scope has one
    digest whatever its format, key order or list order.
    """
    return hashlib.sha256(canonical.encode()).hexdigest()


# What makes a manifest's text mean what it means here: the schema, this
# package (reading, validation, normalization) and the YAML library. A source
# digest includes it, so changing any of them makes every stored source digest
# stale (the text is read again), never wrong.
SOURCE_FINGERPRINT = hashlib.sha256(
    b"".join(
        path.read_bytes() for path in (SCHEMA_PATH, *sorted(Path(__file__).parent.glob("*.py")))
    )
    + yaml.__version__.encode()
).hexdigest()


def source_digest(source: Any, content_type: str | None = None) -> str:
    """Return the digest of a manifest as sent: its text, or a mapping's canonical JSON.

    Two equal source digests are the same text read the same way, or the same
    JSON object, so the same normalized manifest: the gate knows what an
    approved version was created from without reading it again. "" when there
    is nothing to digest (a mapping that is not plain JSON, a lone surrogate that
    is no text: reading refuses both).
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
    try:
        encoded = f"{SOURCE_FINGERPRINT}\n{kind}\n{text}".encode()
    except UnicodeEncodeError:
        return ""
    return hashlib.sha256(encoded).hexdigest()
