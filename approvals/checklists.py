"""Checklists as the workflow reads them: which manifest fields each item covers.

An item's ``covers`` names the manifest fields it reads; they are checked
against the manifest schema's fields when a checklist file is loaded, so a
path the schema does not know stops the load. A change to a covered field
re-opens the item's dimension (``approvals.rereview``).
"""

from pathlib import Path

from approvals.manifest import FIELD_CLASSES, KEY_BY_KIND, PACKAGE, WHOLE_ENTRY, Change
from audit.actors import Actor
from signoffs.models import Checklist
from signoffs.services import checklists_load as _checklists_load


def checklists_load(*, actor: Actor, path: Path | None = None) -> list[Checklist]:
    """Load the shipped checklist versions the database lacks, their coverage validated."""
    return _checklists_load(actor=actor, fields=tuple(FIELD_CLASSES), path=path)


def change_fields(change: Change) -> set[str]:
    """Return the schema field paths a change touches (``scope.tools[].access``).

    A scope entry added or removed touches every field of its kind; a change to
    one constraint touches the entry's constraints.
    """
    if change.kind == PACKAGE:
        return {change.identifier.partition("[")[0]}
    prefix = f"scope.{KEY_BY_KIND[change.kind]}[]."
    if change.field == WHOLE_ENTRY:
        return {path for path in FIELD_CLASSES if path.startswith(prefix)}
    return {prefix + change.field.partition(".")[0]}


def covering_items(checklist: Checklist, fields: set[str]) -> dict[str, list[str]]:
    """Return, by item code, the given fields each item of the checklist covers."""
    found = {}
    for item in checklist.items.all():
        covered = sorted(fields.intersection(item.covers))
        if covered:
            found[item.code] = covered
    return found
