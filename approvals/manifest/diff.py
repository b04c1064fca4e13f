"""Diff two manifests: every changed entry or field, and what it does to an approval.

Each field's change class comes from the manifest schema (``FIELD_CLASSES``).
A change to a scope field that moves its value up the field's rank
(``scope.py``) is an expansion, down a narrowing; a new value of the same or
no rank is an expansion too, so that any unknown change is reviewed. Any
change to a commitment (kill switch, rollback, revocation, attribution) is a
commitment change; narrative text (description, justification) changes freely.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from agents.vocabulary import EnforcementMode, EnforcementPoint, PolicyEngine
from approvals.manifest.canonical import canonical_json, normalize_manifest
from approvals.manifest.schema import COMMITMENT, FIELD_CLASSES, NARRATIVE, SCOPE
from approvals.manifest.scope import (
    ACCESS_ORDER,
    BOUNDARY_ORDER,
    CLASSIFICATION_ORDER,
    CREDENTIAL_METHOD_ORDER,
    DEPLOYMENT_ORDER,
    KEY_BY_KIND,
    KIND_LABELS,
    SCOPE_KINDS,
    scope_entries,
)

# What a change is: a scope expansion or narrowing, or a change to a commitment
# or to narrative text (the field's change class itself).
EXPANSION, NARROWING = "expansion", "narrowing"
CLASSIFICATION_LABELS = {
    EXPANSION: "scope expansion",
    NARROWING: "scope narrowing",
    COMMITMENT: "commitment change",
    NARRATIVE: "narrative",
}
# A change of these classes needs a new review; the others keep the approval.
NEEDS_REVIEW = frozenset({EXPANSION, COMMITMENT})
# A diff's groups of changes, those that need a review first.
DIFF_GROUPS = (
    ("expansions", EXPANSION),
    ("commitments", COMMITMENT),
    ("narrowings", NARROWING),
    ("narrative", NARRATIVE),
)
PACKAGE = "package"
# The field of a change that adds or removes a whole entry (a scope entry, a log destination).
WHOLE_ENTRY = "entry"

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


# Per scope field, how to rank its values: moving up a rank is an expansion, down a
# narrowing, sideways (a different value of equal or incomparable rank) an expansion.
# A scope field not listed ranks every value alike. Keys are the schema's field paths,
# an entry's fields under ``scope.<kind>[]``.
_ENTRY_RANKS: dict[str, Rank] = {
    "access": ACCESS_ORDER.get,
    "trust_boundary": BOUNDARY_ORDER.get,
    "classification": CLASSIFICATION_ORDER.get,
    "privileged": _ordered(False, True),
}
SCOPE_RANKS: dict[str, Rank] = {
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
    "enforcement.point": lambda value: int(value == EnforcementPoint.NONE),
    "enforcement.engine": lambda value: int(value == PolicyEngine.NONE),
    "enforcement.mode": _ordered(EnforcementMode.ENFORCE, EnforcementMode.MONITOR),
    "chaining.allowed": _ordered(False, True),
    "chaining.max_depth": _amount,
    "human_in_the_loop.writes": _ordered(True, False),
    "human_in_the_loop.privileged": _ordered(True, False),
    "kill_switch.max_minutes_to_revoke": _amount,
    "kill_switch.webhook": lambda value: int(value is None),
    "logging.retention_days": lambda value: -value,
    "emergency_access.break_glass": _ordered(False, True),
    "approval_valid_days": _amount,
    **{
        f"scope.{key}[].{field}": rank
        for key in SCOPE_KINDS
        for field, rank in _ENTRY_RANKS.items()
    },
}
_DESTINATIONS = "logging.destinations"

# A field's rule: its rank when it is a scope field, else its change class. Built
# once per process from the schema; a path the schema does not know ranks every
# value alike, so that any change to it is reviewed.
Rule = Rank | str
_RULES: dict[str, Rule] = {
    path: SCOPE_RANKS.get(path, _same_rank) if cls == SCOPE else cls
    for path, cls in FIELD_CLASSES.items()
}


def _entry_path(kind: str, field: str) -> str:
    """Return the schema path of a scope entry's field (``scope.tools[].access``)."""
    return f"scope.{KEY_BY_KIND[kind]}[].{field}"


def _classify(old: Any, new: Any, rule: Rule) -> str:
    """Classify a change from ``old`` to ``new`` by the field's rule."""
    if isinstance(rule, str):
        return rule
    before, after = rule(old), rule(new)
    if before is None or after is None or before == after:
        return EXPANSION
    return EXPANSION if after > before else NARROWING


def widens(path: str, approved: Any, requested: Any) -> bool:
    """Tell whether the scope field at ``path`` moved from ``approved`` to ``requested`` widens it.

    The diff's own rule, for one field: equal values keep the scope, a move down
    the field's rank narrows it, anything else (up, sideways, unknown) widens it.
    ``path`` is the schema's (``credentials.max_ttl_seconds``, ``scope.tools[].access``).
    """
    return approved != requested and (
        _classify(approved, requested, _RULES.get(path, _same_rank)) != NARROWING
    )


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
    def commitments(self) -> tuple[Change, ...]:
        """Return the changes to commitments (kill switch, rollback, revocation, attribution)."""
        return self._of(COMMITMENT)

    @property
    def narrative(self) -> tuple[Change, ...]:
        """Return the changes to narrative text (description, justification)."""
        return self._of(NARRATIVE)

    @property
    def is_expansion(self) -> bool:
        """Tell whether any change widens the scope (a full review is needed)."""
        return bool(self.expansions)

    @property
    def is_commitment_change(self) -> bool:
        """Tell whether any commitment changed (a full review is needed)."""
        return bool(self.commitments)

    @property
    def is_pure_narrowing(self) -> bool:
        """Tell whether there are changes and every one of them shrinks the scope."""
        return bool(self.changes) and all(c.classification == NARROWING for c in self.changes)

    @property
    def keeps_approval(self) -> bool:
        """Tell whether there are changes and each narrows the scope or only rewords."""
        return bool(self.changes) and not any(
            c.classification in NEEDS_REVIEW for c in self.changes
        )

    @property
    def commitment_fields(self) -> tuple[str, ...]:
        """Return the paths of the changed commitments, each once, in order."""
        return tuple(dict.fromkeys(change_path(c) for c in self.commitments))

    @property
    def is_empty(self) -> bool:
        """Tell whether nothing changed at all."""
        return not self.changes

    def as_dict(self) -> dict:
        """Return the diff as a JSON-compatible dict, grouped by classification."""
        return {
            **{group: [c.as_dict() for c in self._of(cls)] for group, cls in DIFF_GROUPS},
            "is_expansion": self.is_expansion,
            "is_commitment_change": self.is_commitment_change,
            "is_pure_narrowing": self.is_pure_narrowing,
        }


def change_path(change: Change | Mapping) -> str:
    """Return the manifest path a change is to (``kill_switch.owner``, ``scope.tools[crm]``).

    ``change`` is a Change or a stored one (its ``as_dict()``).
    """
    if isinstance(change, Change):
        kind, identifier, field = change.kind, change.identifier, change.field
    else:
        kind, identifier, field = change["kind"], change["identifier"], change["field"]
    if kind == PACKAGE:
        return identifier.partition("[")[0]
    entry = f"scope.{KEY_BY_KIND[kind]}[{identifier}]"
    return entry if field == WHOLE_ENTRY else f"{entry}.{field}"


def show_value(value: Any) -> str:
    """Render a value briefly for a change's message or words."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    else:
        text = value if isinstance(value, str) else canonical_json(value)
    return text if len(text) <= 80 else text[:77] + "..."


def change_detail(field: str, change: str, old: Any, new: Any, arrow: str = "->") -> str:
    """Say what happened to a field or entry: "added", "set to 5", "read -> write"."""
    return {
        "added": "added" if field == WHOLE_ENTRY else f"set to {show_value(new)}",
        "removed": "removed" if field == WHOLE_ENTRY else f"removed (was {show_value(old)})",
        "changed": f"{show_value(old)} {arrow} {show_value(new)}",
    }[change]


def _change(kind, identifier, field, change, old, new, classification) -> Change:
    """Build a Change and its human message."""
    subject = identifier if kind == PACKAGE else f"{KIND_LABELS[kind]} {identifier}"
    label = "" if field in (WHOLE_ENTRY, "value") else f"{field} "
    detail = change_detail(field, change, old, new)
    message = f"{subject}: {label}{detail} ({CLASSIFICATION_LABELS[classification]})"
    return Change(kind, identifier, field, change, old, new, classification, message)


def _label(old: Any, new: Any) -> str:
    """Name a change of an optional value: added, removed or changed."""
    return "added" if old is None else "removed" if new is None else "changed"


def _constraint_changes(kind: str, ident: str, old: dict, new: dict) -> Iterator[Change]:
    """Yield one change per constraint key added (narrowing), removed or changed."""
    rule = _RULES.get(_entry_path(kind, "constraints"), _same_rank)
    scope = not isinstance(rule, str)
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        field = f"constraints.{key}"
        if before is _MISSING:
            yield _change(kind, ident, field, "added", None, after, NARROWING if scope else rule)
        elif after is _MISSING:
            yield _change(kind, ident, field, "removed", before, None, EXPANSION if scope else rule)
        elif before != after:
            classification = _classify(before, after, _number if scope else rule)
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
            yield _change(kind, ident, WHOLE_ENTRY, "added", None, new, EXPANSION)
        elif new is None:
            yield _change(kind, ident, WHOLE_ENTRY, "removed", old, None, NARROWING)
        elif old != new:
            yield from _constraint_changes(kind, ident, old["constraints"], new["constraints"])
            for field in sorted((old.keys() | new.keys()) - {"id", "constraints"}):
                if old.get(field) != new.get(field):
                    rule = _RULES.get(_entry_path(kind, field), _same_rank)
                    classification = _classify(old.get(field), new.get(field), rule)
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


def _destination_changes(old: list, new: list, removed: str, added: str) -> Iterator[Change]:
    """Yield a change per log destination removed (``removed``) or added (``added``)."""
    for name in sorted(set(old) - set(new)):
        yield _change(
            PACKAGE, f"{_DESTINATIONS}[{name}]", WHOLE_ENTRY, "removed", name, None, removed
        )
    for name in sorted(set(new) - set(old)):
        yield _change(PACKAGE, f"{_DESTINATIONS}[{name}]", WHOLE_ENTRY, "added", None, name, added)


# As a scope field, a log destination removed widens what goes unrecorded, one added narrows it.
_DESTINATION_RULE = _RULES.get(_DESTINATIONS, _same_rank)
_DESTINATION_CLASSES = (
    (_DESTINATION_RULE, _DESTINATION_RULE)
    if isinstance(_DESTINATION_RULE, str)
    else (EXPANSION, NARROWING)
)


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
        before.pop(_DESTINATIONS, None) or [],
        after.pop(_DESTINATIONS, None) or [],
        *_DESTINATION_CLASSES,
    )
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old != new:
            classification = _classify(old, new, _RULES.get(path, _same_rank))
            yield _change(PACKAGE, path, "value", _label(old, new), old, new, classification)


def _first_version_changes(doc: dict) -> Iterator[Change]:
    """Yield every entry and set field of a first version as an added expansion."""
    for kind, entry in scope_entries(doc):
        yield _change(kind, entry["id"], WHOLE_ENTRY, "added", None, entry, EXPANSION)
    fields = _package_fields(doc)
    yield from _destination_changes([], fields.pop(_DESTINATIONS, None) or [], EXPANSION, EXPANSION)
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
