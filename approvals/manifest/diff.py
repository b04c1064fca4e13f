"""Diff two manifests: every changed entry or field, and whether it widens the scope.

A change that moves a field's value up its rank (``scope.py``) is an
expansion, down a narrowing; a new value of the same or no rank is an
expansion too, so that any unknown change is reviewed. Text that changes no
scope (names, notes, procedures) is neutral.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from approvals.manifest.canonical import canonical_json, normalize_manifest
from approvals.manifest.scope import (
    ACCESS_ORDER,
    BOUNDARY_ORDER,
    CLASSIFICATION_ORDER,
    CREDENTIAL_METHOD_ORDER,
    DEPLOYMENT_ORDER,
    KIND_LABELS,
    scope_entries,
)

EXPANSION, NARROWING, NEUTRAL = "expansion", "narrowing", "neutral"
PACKAGE = "package"

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
    subject = identifier if kind == PACKAGE else f"{KIND_LABELS[kind]} {identifier}"
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
    before = {(kind, entry["id"]): entry for kind, entry in scope_entries(old_doc)}
    after = {(kind, entry["id"]): entry for kind, entry in scope_entries(new_doc)}
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
    for kind, entry in scope_entries(doc):
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
