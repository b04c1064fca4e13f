"""Service errors shown beside the form fields they name."""

import re

from django import forms

from config.errors import ApplicationError
from web.forms.packages import FIELD_PATHS, PATH_BY_FIELD, PackageForm
from web.forms.scope import ScopeEditor

_SCOPE_PATH = re.compile(r"^scope\.(\w+)\[(\d+)\](?:\.(\w+))?")


def errors_apply(error: ApplicationError, form: forms.Form, scope: ScopeEditor | None = None):
    """Put a service's field errors beside the fields they name; return the rest.

    Paths are those of InvalidInput.fields, e.g. ``manifest.scope.tools[0].access``
    or ``manifest.kill_switch.last_tested``; what matches no field is returned
    as (path, message) pairs to show above the form.
    """
    rest = []
    for path, messages in (error.fields or {}).items():
        for message in messages if isinstance(messages, list) else [messages]:
            if not _error_place(path, str(message), form, scope):
                rest.append((path.removeprefix("manifest."), str(message)))
    if not error.fields:
        rest.append(("", error.message))
    return rest


def filters_ignored(form: forms.Form) -> list[tuple[str, list[str]]]:
    """Return a list's filters whose values are invalid, by their labels, with the errors.

    A list answers without them and says so (`templates/_filters_ignored.html`),
    in the part of the page a search replaces: a NUL in a search, or any value
    no filter can read, is named, never taken for a search that matches nothing.
    """
    return [
        (form.fields[name].label or name.capitalize() if name in form.fields else "Filters", errs)
        for name, errs in form.errors.items()
    ]


def errors_show(error: ApplicationError, form: forms.Form) -> None:
    """Put a service's field errors beside their fields and the others above the form."""
    for _, message in errors_apply(error, form):
        form.add_error(None, message)


def _error_place(path: str, message: str, form, scope) -> bool:
    bare = path.removeprefix("manifest.")
    match = _SCOPE_PATH.match(bare)
    if match and scope is not None:
        kind, index, field = match.group(1), int(match.group(2)), match.group(3)
        return scope.add_error(kind, index, field, message)
    if isinstance(form, PackageForm):
        name = None
        candidate = re.sub(r"\[\d+\]$", "", bare)
        while candidate and name is None:
            name = FIELD_PATHS.get(candidate)
            candidate = candidate.rpartition(".")[0]
        if name is None:
            return False
        form.add_error(name, f"{bare}: {message}" if PATH_BY_FIELD[name] != bare else message)
        return True
    name = path.replace("answers.", "item_", 1) if path.startswith("answers.") else path
    if name in form.fields:
        form.add_error(name, message)
        return True
    return False


def error_summary(*, form=None, scope=None, upload=None, rest=(), rest_anchor="package-form"):
    """Return (label, message, anchor id) for every error of the editor page, in page order.

    The page shows the manifest file first, then the package form's first section,
    the scope, and the other sections. `rest` holds the (path, message) pairs no
    field took; they link to `rest_anchor`.
    """
    entries = []
    if upload is not None and upload.is_bound:
        entries += _field_entries(upload, "", list(upload))
    if form is not None and form.is_bound:
        entries += [
            ("Package", str(message), "package-form") for message in form.non_field_errors()
        ]
    sections = [[field for field, _ in fields] for _, _, fields in form.sections()] if form else []
    if form is not None and form.is_bound and sections:
        entries += _field_entries(form, "", sections[0])
    for _kind, label, _entry_label, rows, _focus in scope.kinds() if scope is not None else ():
        for number, row in enumerate(rows, start=1):
            if not row.is_bound:
                continue
            where = f"{label} entry {number}"
            first = row[next(iter(row.fields))].id_for_label
            entries += [(where, str(message), first) for message in row.non_field_errors()]
            entries += _field_entries(row, f"{where}: ", list(row))
    if form is not None and form.is_bound:
        for fields in sections[1:]:
            entries += _field_entries(form, "", fields)
    entries += [(path or "Package", message, rest_anchor) for path, message in rest]
    return entries


def form_problems(form: forms.Form, *, labels=None, elsewhere=("", "")):
    """Return (label, message, anchor id) of each error of a form of plain fields, in the
    form's order.

    A field is named by its label, or by `labels` (field name -> label). An error of the
    whole form is named and linked by `elsewhere` (label, anchor id), and a hidden
    field's links there too; an empty anchor links nowhere, as does a group of boxes,
    which has no one element to link to.
    """
    labels = labels or {}
    elsewhere_label, elsewhere_anchor = elsewhere
    entries = [(elsewhere_label, str(m), elsewhere_anchor) for m in form.non_field_errors()]
    for field in form:
        label = labels.get(field.name, field.label)
        anchor = elsewhere_anchor if field.is_hidden else field.id_for_label
        entries += [(label, str(message), anchor) for message in field.errors]
    return entries


def _field_entries(form: forms.Form, label_prefix: str, fields) -> list[tuple[str, str, str]]:
    return [
        (f"{label_prefix}{field.label}", str(message), field.id_for_label)
        for field in fields
        for message in field.errors
    ]
