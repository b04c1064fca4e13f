"""The package editor's scope table: one row of fields per scope entry."""

import json
import re
import sys

from django import forms
from django.utils.text import capfirst

from agents.vocabulary import Access, Classification, TrustBoundary
from approvals import manifest as manifests


def entry_label(name: str) -> str:
    """Return the label of a scope entry's field: its title in the manifest schema,
    capitalised ("Trust boundary"), as the package editor labels every field."""
    return capfirst(manifests.entry_field_words(name))


class ScopeEntryForm(forms.Form):
    """One scope entry: one row of the scope table. The columns' meaning is said once,
    above the table (SCOPE_COLUMNS), not beside every row."""

    id = forms.CharField(label=entry_label("id"), required=False, max_length=512)
    access = forms.ChoiceField(label=entry_label("access"), choices=Access.choices, required=False)
    trust_boundary = forms.ChoiceField(
        label=entry_label("trust_boundary"), choices=TrustBoundary.choices, required=False
    )
    classification = forms.ChoiceField(
        label=entry_label("classification"),
        choices=Classification.choices,
        required=False,
        initial=Classification.INTERNAL,
    )
    privileged = forms.BooleanField(label=entry_label("privileged"), required=False)
    constraints = forms.CharField(
        label=entry_label("constraints"), required=False, widget=forms.TextInput
    )
    justification = forms.CharField(label=entry_label("justification"), required=False)

    def clean_constraints(self) -> dict:
        text = self.cleaned_data["constraints"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON: {error.msg}.")
        except ValueError:  # Python reads no int of more digits than its limit
            digits = sys.get_int_max_str_digits()
            raise forms.ValidationError(
                f"Not valid JSON: a number has more than {digits} digits."
            ) from None
        except RecursionError:
            raise forms.ValidationError("Not valid JSON: nested too deeply.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"max": 1}.')
        return value

    def is_blank(self) -> bool:
        return not any(
            str(self.data.get(self.add_prefix(name), "")).strip()
            for name in ("id", "justification", "constraints")
        )

    def entry(self) -> dict:
        data = self.cleaned_data
        entry = {"id": data["id"].strip(), "access": data["access"] or "read"}
        for name in ("trust_boundary", "classification"):
            if data[name]:
                entry[name] = data[name]
        entry["privileged"] = data["privileged"]
        if data["constraints"]:
            entry["constraints"] = data["constraints"]
        if data["justification"].strip():
            entry["justification"] = data["justification"].strip()
        if not entry["id"]:
            del entry["id"]
        return entry


SCOPE_FIELDS = list(ScopeEntryForm.base_fields)
# What each column of the scope table means, shown once above it.
SCOPE_COLUMNS = {
    "id": "an action name, tool, dataset, URL or API; no spaces",
    "access": "read < write < execute < admin",
    "trust_boundary": "internal < external < third party",
    "classification": "public < internal < confidential < restricted",
    "privileged": "makes the package critical",
    "constraints": 'an optional JSON object, e.g. {"max_amount_eur": 50}',
    "justification": "why the agent needs it",
}
REQUIRED_COLUMNS = ("id", "access")
# A row index longer than this is none the page draws: its fields are ignored, and no
# int() is taken of thousands of digits, which Python refuses.
MAX_ROW_INDEX_DIGITS = 6
SCOPE_LABELS = {
    "actions": "Actions",
    "tools": "Tools",
    "datasets": "Datasets",
    "endpoints": "Endpoints",
    "external_apis": "External APIs",
}
# One entry of a kind, in a sentence: "+ Add external API entry".
SCOPE_ENTRY_LABELS = {
    key: manifests.KIND_LABELS[kind] for key, kind in manifests.KIND_BY_KEY.items()
}


def entry_initial(entry: dict) -> dict:
    initial = {name: entry.get(name) for name in SCOPE_FIELDS}
    initial["constraints"] = json.dumps(entry["constraints"]) if entry.get("constraints") else ""
    initial["justification"] = entry.get("justification") or ""
    return initial


class ScopeEditor:
    """The scope entries of every kind, as rows of `ScopeEntryForm`s.

    Rows are read from the posted data by index, blank rows dropped, and
    renumbered so row i of a kind is entry i of the manifest: a validation path
    like ``scope.tools[2].access`` then lands on its row.
    """

    def __init__(self, rows: dict[str, list[ScopeEntryForm]], *, focus_add: str = ""):
        self.rows = rows
        # The kind whose add button takes the focus: its last row was just removed.
        self.focus_add = focus_add

    @classmethod
    def from_manifest(cls, manifest: dict | None) -> "ScopeEditor":
        scope = (manifest or {}).get("scope") or {}
        return cls(
            {
                kind: [
                    ScopeEntryForm(prefix=f"{kind}-{index}", initial=entry_initial(entry))
                    for index, entry in enumerate(scope.get(kind) or [])
                ]
                for kind in manifests.SCOPE_KINDS
            }
        )

    @classmethod
    def from_post(cls, data, *, add: str = "", remove: str = "") -> "ScopeEditor":
        """Read the posted rows, then add or remove one when asked.

        The keyboard focus follows the change: into the added row's first field,
        or after a removal to the row that took its place (the add button when
        none did). The page marks that element `autofocus`, which browsers and
        htmx's swap both honour.
        """
        rows = {}
        focus_add = ""
        for kind in manifests.SCOPE_KINDS:
            pattern = re.compile(rf"^{kind}-([0-9]{{1,{MAX_ROW_INDEX_DIGITS}}})-id$")
            indices = sorted({int(m.group(1)) for key in data if (m := pattern.match(key))})
            values = []
            focus = None
            for index in indices:
                if remove == f"{kind}-{index}":
                    focus = len(values)
                    continue
                row = {name: data.get(f"{kind}-{index}-{name}", "") for name in SCOPE_FIELDS}
                if not row["privileged"]:
                    row.pop("privileged")
                if any(
                    str(row.get(name, "")).strip()
                    for name in ("id", "justification", "constraints")
                ):
                    values.append(row)
            forms_ = [
                ScopeEntryForm(
                    {f"{kind}-{i}-{name}": value for name, value in row.items()},
                    prefix=f"{kind}-{i}",
                )
                for i, row in enumerate(values)
            ]
            if add == kind:
                forms_.append(ScopeEntryForm(prefix=f"{kind}-{len(forms_)}"))
                focus = len(forms_) - 1
            if focus is not None and focus < len(forms_):
                forms_[focus].fields["id"].widget.attrs["autofocus"] = True
            elif focus is not None:
                focus_add = kind
            rows[kind] = forms_
        return cls(rows, focus_add=focus_add)

    def is_valid(self) -> bool:
        return all(
            form.is_valid() for forms_ in self.rows.values() for form in forms_ if form.is_bound
        )

    def has_errors(self) -> bool:
        return any(
            form.is_bound and form.errors for forms_ in self.rows.values() for form in forms_
        )

    def scope(self) -> dict[str, list[dict]]:
        return {
            kind: [form.entry() for form in forms_ if form.is_bound and not form.is_blank()]
            for kind, forms_ in self.rows.items()
        }

    def kinds(self):
        """Yield (kind, label, one entry's label, rows, whether its add button takes the
        focus) for the template."""
        for kind in manifests.SCOPE_KINDS:
            yield (
                kind,
                SCOPE_LABELS[kind],
                SCOPE_ENTRY_LABELS[kind],
                self.rows[kind],
                kind == self.focus_add,
            )

    def columns(self):
        """Yield (label, meaning, required) per column of the scope table."""
        for name, field in ScopeEntryForm.base_fields.items():
            yield field.label, SCOPE_COLUMNS[name], name in REQUIRED_COLUMNS

    def add_error(self, kind: str, index: int, field: str | None, message: str) -> bool:
        forms_ = self.rows.get(kind, [])
        if index >= len(forms_):
            return False
        form = forms_[index]
        if not form.is_bound:
            return False
        if not hasattr(form, "cleaned_data"):
            form.is_valid()
        form.add_error(field if field in form.fields else None, message)
        return True
