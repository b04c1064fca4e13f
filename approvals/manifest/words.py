"""How a change of a diff reads on a page: its field named by the schema's titles.

A change keeps its machine fields (kind, identifier, field, classification)
and the message it was stored with; its words are derived from the machine
fields when it is shown, so a diff stored before reads the same way. The words
name a field by its title ("tool refund-issue: access Read → Write",
"rollback plan: … → …") and show a value of a vocabulary by its label, a yes or
no for a boolean, as the review page does; the page shows the change's path
beside them.
"""

from collections.abc import Mapping
from typing import Any

from django.db.models import TextChoices

from agents.vocabulary import label_of
from approvals.manifest.diff import (
    CLASSIFICATION_LABELS,
    PACKAGE,
    WHOLE_ENTRY,
    change_detail,
    change_path,
)
from approvals.manifest.schema import ITEM_TITLES, entry_field_title, field_title
from approvals.manifest.scope import (
    ENTRY_VOCABULARIES,
    FIELD_VOCABULARIES,
    KIND_LABELS,
    SCOPE_KINDS,
)

ARROW = "→"


def _item(path: str, key: str) -> str:
    """Name one item of a list or mapping field ("log destination siem")."""
    return f"{ITEM_TITLES.get(path, field_title(path))} {key}"


def field_words(identifier: str) -> str:
    """Name a field outside the scope, or one item of it, by its path as a diff keeps it:
    "rollback plan", "log destination siem" (``logging.destinations[siem]``)."""
    path, bracket, key = identifier.partition("[")
    return _item(path, key.removesuffix("]")) if bracket else field_title(path)


def entry_field_words(field: str) -> str:
    """Name a scope entry's field, or one of its constraints, as a diff keeps it:
    "trust boundary", "constraint max_calls" (``constraints.max_calls``)."""
    name, dot, key = field.partition(".")
    if dot:
        return _item(f"scope.{SCOPE_KINDS[0]}[].{name}", key)
    return entry_field_title(field)


def value_words(value: Any, vocabulary: type[TextChoices] | None = None) -> Any:
    """Return a value as the pages show it: yes or no, or its label in ``vocabulary``; any
    other value as it is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if vocabulary is not None and isinstance(value, str):
        return label_of(vocabulary, value)
    return value


def change_words(change: Mapping) -> str:
    """Say a stored change in words: "tool refund-issue: access Read → Write".

    ``change`` is a diff's change as stored (``Change.as_dict()``).
    """
    kind, field = change["kind"], change["field"]
    if kind == PACKAGE:
        vocabulary = FIELD_VOCABULARIES.get(change["identifier"])
    else:
        vocabulary = ENTRY_VOCABULARIES.get(field)
    old, new = (value_words(change[key], vocabulary) for key in ("old", "new"))
    detail = change_detail(field, change["change"], old, new, ARROW)
    if kind == PACKAGE:
        return f"{field_words(change['identifier'])}: {detail}"
    subject = f"{KIND_LABELS.get(kind, kind)} {change['identifier']}"
    if field == WHOLE_ENTRY:
        return f"{subject}: {detail}"
    return f"{subject}: {entry_field_words(field)} {detail}"


def change_named(change: Mapping) -> dict:
    """Return a stored change with its words, its path and its class in words, as the
    pages show it."""
    return {
        **change,
        "words": change_words(change),
        "path": change_path(change),
        "classification_label": CLASSIFICATION_LABELS.get(change["classification"], ""),
    }
