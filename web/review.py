"""What the review page shows: the changes first, the scope with its changed rows marked,
and each sign-off's state in words.

The changes come from the package's stored diff (what the gate compares) and
the old values from the version it was diffed against; every value is shown
in the vocabularies' words (``web.vocabulary``).
"""

from dataclasses import dataclass, field

from django.utils import timezone

from approvals.manifest import (
    CLASSIFICATION_LABELS,
    DIFF_GROUPS,
    EXPANSION,
    KIND_BY_KEY,
    NARRATIVE,
    NARROWING,
    PACKAGE,
    SCOPE_KINDS,
    WHOLE_ENTRY,
    change_path,
    normalize_manifest,
)
from approvals.models import PackageState
from signoffs.models import SignOffState, Verdict
from signoffs.sla import overdue_since
from web import vocabulary

# The badge a decision wears: the colour of the sign-off state its verdict leads to.
VERDICT_BADGES = {
    Verdict.APPROVE: SignOffState.APPROVED,
    Verdict.REQUEST_CHANGES: SignOffState.CHANGES_REQUESTED,
    Verdict.REJECT: SignOffState.REJECTED,
}
# An entry's state against the version before, and its words.
ADDED, WIDENED, NARROWED, REWORDED, REMOVED = "added", "widened", "narrowed", "reworded", "removed"
ENTRY_STATUS_LABELS = {
    ADDED: "New",
    WIDENED: "Widened",
    NARROWED: "Narrowed",
    REWORDED: "Reworded",
    REMOVED: "Removed",
}
# An entry's fields in the order the page lists them.
ENTRY_FIELDS = (
    "access",
    "trust_boundary",
    "classification",
    "privileged",
    "constraints",
    "justification",
)


@dataclass
class Attribute:
    """One field of a scope entry: its value in words, and the value before if it changed."""

    name: str
    label: str
    now: str
    before: str | None = None
    classification: str = ""

    @property
    def changed(self) -> bool:
        return self.before is not None

    @property
    def classification_label(self) -> str:
        return CLASSIFICATION_LABELS.get(self.classification, "")


@dataclass
class EntryRow:
    """One scope entry of the package (or of the version before, when it was removed)."""

    kind: str
    identifier: str
    attributes: list[Attribute]
    status: str = ""

    @property
    def kind_label(self) -> str:
        return vocabulary.label("scope_kind", self.kind)

    @property
    def status_label(self) -> str:
        return ENTRY_STATUS_LABELS.get(self.status, "")

    @property
    def needs_review(self) -> bool:
        return self.status in (ADDED, WIDENED)


@dataclass
class FieldChange:
    """A change the entry rows do not show: a package field, or a narrowed or removed entry.

    ``path`` is the manifest path the change is to, shown beside the field's words as
    the editor's diff shows it.
    """

    section: str
    subject: str
    before: str
    now: str
    classification: str
    path: str

    @property
    def classification_label(self) -> str:
        return CLASSIFICATION_LABELS[self.classification]


@dataclass
class Changes:
    """The review page's changes: entries added or widened, then every other change."""

    entries: list[EntryRow] = field(default_factory=list)
    others: list[FieldChange] = field(default_factory=list)
    scope_rows: list[EntryRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.entries and not self.others


def _entries(doc: dict) -> dict[tuple[str, str], dict]:
    """Return a normalized manifest's scope entries by (kind, identifier), in manifest order."""
    return {
        (KIND_BY_KEY[key], entry["id"]): entry
        for key in SCOPE_KINDS
        for entry in doc.get("scope", {}).get(key, [])
    }


def _constraints(entry: dict) -> str:
    return vocabulary.value_text(entry.get("constraints") or {}).replace("not set", "none set")


def _entry_row(kind: str, entry: dict, old: dict | None, classes: dict[str, str]) -> EntryRow:
    """Return an entry's row; with `old`, each changed field carries its value before."""
    attributes = []
    for name in ENTRY_FIELDS:
        now = (
            _constraints(entry)
            if name == "constraints"
            else vocabulary.entry_value_text(name, entry.get(name))
        )
        attribute = Attribute(name, vocabulary.entry_field_label(name), now)
        if old is not None and old.get(name) != entry.get(name):
            attribute.before = (
                _constraints(old)
                if name == "constraints"
                else vocabulary.entry_value_text(name, old.get(name))
            )
            attribute.classification = classes.get(name, EXPANSION)
        attributes.append(attribute)
    return EntryRow(kind, entry["id"], attributes)


def _status(classes: dict[str, str]) -> str:
    """Return an entry's state from the classes of its fields' changes."""
    found = set(classes.values())
    if EXPANSION in found:
        return WIDENED
    if found - {NARROWING, NARRATIVE}:
        return WIDENED  # a commitment, which needs a review like a widening
    return NARROWED if NARROWING in found else REWORDED


def package_changes(package, base) -> Changes:
    """Return what the package changes against `base` (None: the first version).

    Entries added or widened (``entries``) need the reviewers' attention first;
    every other change follows in the diff's order, those that need a review
    first. ``scope_rows`` is the package's scope with each changed row marked,
    then the entries it removed.
    """
    doc = normalize_manifest(package.manifest)
    current = _entries(doc)
    if base is None:
        rows = [_entry_row(kind, entry, None, {}) for (kind, _), entry in current.items()]
        return Changes(scope_rows=rows)
    before = _entries(normalize_manifest(base.manifest))
    diff = package.diff or {}
    by_entry: dict[tuple[str, str], dict[str, str]] = {}
    others: list[FieldChange] = []
    for group, classification in DIFF_GROUPS:
        for change in diff.get(group, []):
            if change["kind"] == PACKAGE:
                others.append(_package_change(change, classification))
                continue
            name = change["field"].partition(".")[0]
            # The first class of a field wins: the groups come widest first.
            by_entry.setdefault((change["kind"], change["identifier"]), {}).setdefault(
                name, classification
            )
    changes = Changes(others=others)
    for (kind, ident), entry in current.items():
        classes = by_entry.get((kind, ident), {})
        old = before.get((kind, ident))
        row = _entry_row(kind, entry, old, classes)
        if old is None:
            row.status = ADDED
        elif classes:
            row.status = _status(classes)
        changes.scope_rows.append(row)
        if row.needs_review:
            changes.entries.append(row)
        elif row.status:
            changes.others.extend(_entry_field_changes(row))
    for (kind, ident), old in before.items():
        if (kind, ident) not in current:
            row = _entry_row(kind, old, None, {})
            row.status = REMOVED
            changes.scope_rows.append(row)
            path = change_path({"kind": kind, "identifier": ident, "field": WHOLE_ENTRY})
            changes.others.append(
                FieldChange(row.kind_label, ident, "in the scope", "removed", NARROWING, path)
            )
    order = [classification for _, classification in DIFF_GROUPS]
    changes.others.sort(key=lambda c: order.index(c.classification))
    return changes


def _entry_field_changes(row: EntryRow) -> list[FieldChange]:
    """Return the changed fields of a narrowed or reworded entry, one change each."""
    return [
        FieldChange(
            f"{row.kind_label} {row.identifier}",
            attribute.label,
            attribute.before,
            attribute.now,
            attribute.classification,
            change_path({"kind": row.kind, "identifier": row.identifier, "field": attribute.name}),
        )
        for attribute in row.attributes
        if attribute.changed
    ]


def _package_change(change: dict, classification: str) -> FieldChange:
    """Return a change to a field outside the scope, in words."""
    path = change["identifier"]
    if change["field"] == WHOLE_ENTRY:  # one log destination added or removed
        before, now = ("in the logs", "removed") if change["new"] is None else ("", "added")
        section, subject = vocabulary.field_section(path), vocabulary.field_label(path)
        return FieldChange(section, subject, before, now, classification, change_path(change))
    return FieldChange(
        vocabulary.field_section(path),
        vocabulary.field_label(path),
        vocabulary.field_value_text(path, change["old"]),
        vocabulary.field_value_text(path, change["new"]),
        classification,
        change_path(change),
    )


# ---------------------------------------------------------------------- sign-off states

# A package in these states was closed by a reviewer's verdict on one dimension.
CLOSING_VERDICTS = {
    PackageState.CHANGES_REQUESTED: Verdict.REQUEST_CHANGES,
    PackageState.REJECTED: Verdict.REJECT,
}


def closing_decision(package, signoffs) -> tuple | None:
    """Return (decision, sign-off) of the verdict that closed the package, if one did."""
    verdict = CLOSING_VERDICTS.get(package.state)
    closing = None
    for signoff in signoffs:
        for decision in signoff.decisions.all():
            if decision.verdict == verdict and (
                closing is None or decision.created_at > closing[0].created_at
            ):
                closing = (decision, signoff)
    return closing


def signoff_shown(package, signoff) -> tuple[str, str]:
    """Return a sign-off's (css class, badge) as every page shows it.

    A pending sign-off of a package no longer in review cannot be decided by
    anyone: it is on hold (changes were requested) or closed, not "pending".
    """
    state = signoff.state
    if state != SignOffState.PENDING or package.state == PackageState.IN_REVIEW:
        return state, vocabulary.label("signoff_state", state)
    return "waiting", "On hold" if package.state == PackageState.CHANGES_REQUESTED else "Closed"


def signoff_status(package, signoff, closing) -> tuple[str, str, str]:
    """Return a sign-off's (css class, badge, explanation) as its card shows them."""
    css, badge = signoff_shown(package, signoff)
    if css != "waiting":
        return css, badge, ""
    if closing is not None:
        decision, by = closing
        verdict = vocabulary.label("verdict", decision.verdict)
        dimension = vocabulary.label("dimension", by.dimension)
        why = f"{badge}: {verdict.lower()} by {decision.reviewer.username} ({dimension})."
        return css, badge, why
    words = vocabulary.label("package_state", package.state).lower()
    return css, badge, f"{badge}: not decided before the version was {words}."


def overdue(signoff):
    """Return when a pending sign-off's review target passed, or None while within it."""
    due = overdue_since(signoff)
    if signoff.state != SignOffState.PENDING or due is None or due > timezone.now():
        return None
    return due
