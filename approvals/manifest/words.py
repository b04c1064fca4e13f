"""How a change of a diff reads on a page: its field named by the schema's titles.

A change keeps its machine fields (kind, identifier, field, classification)
and the message it was stored with; its words are derived from the machine
fields when it is shown, so a diff stored before reads the same way. The words
name a field by its title ("tool refund-issue: access read → write",
"rollback plan: … → …"); the page shows the change's path beside them.
"""

from collections.abc import Mapping

from approvals.manifest.diff import CLASSIFICATION_LABELS, PACKAGE, change_detail, change_path
from approvals.manifest.schema import ITEM_TITLES, entry_field_title, field_title
from approvals.manifest.scope import KIND_LABELS, SCOPE_KINDS

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


def change_words(change: Mapping) -> str:
    """Say a stored change in words: "tool refund-issue: access read → write".

    ``change`` is a diff's change as stored (``Change.as_dict()``).
    """
    kind, field = change["kind"], change["field"]
    detail = change_detail(field, change["change"], change["old"], change["new"], ARROW)
    if kind == PACKAGE:
        return f"{field_words(change['identifier'])}: {detail}"
    subject = f"{KIND_LABELS.get(kind, kind)} {change['identifier']}"
    if field == "entry":
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
