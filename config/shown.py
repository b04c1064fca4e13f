"""Forms that send back what they showed, so that a save applies only what its person changed.

A page opened before someone else's change (a deactivation, a group taken away
during an incident) still shows the row as it was. Compared with the row as the
save finds it, each value the page still shows looks like a change, and the save
would put the other change back under the saver's name. A `ShownForm` renders,
in a hidden input beside each of its `shown` fields, the value the page showed
(`<field>_shown`), and measures what the person changed against those values: a
field they left is left as the database has it, whatever it became meanwhile.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import cached_property

RELOAD = "The page sent back is not the one shown: reload it."
# A hidden input shows a flag as str() of the bool; the flag's own field reads any other text
# as set, so a value shown is read here instead.
FLAGS = {"True": True, "False": False}


class ShownChoices(forms.Field):
    """The ids of the choices a page was rendered with ticked, sent back in hidden inputs.

    A page that ticked none renders no input, so a post without any showed none.
    """

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "Not ids of the choices shown."}

    def to_python(self, value) -> set[int]:
        try:
            return {int(item) for item in value or ()}
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class ShownValue(forms.Field):
    """The value a page showed in the field `of`, sent back in a hidden input and read as
    `of` reads its own; a post without it is not one of a page that showed the field."""

    widget = forms.HiddenInput
    default_error_messages = {"invalid": "Not the value shown."}

    def __init__(self, of: forms.Field, **kwargs):
        self.of = of
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        invalid = ValidationError(self.error_messages["invalid"], code="invalid")
        if isinstance(self.of, forms.BooleanField):
            if value not in FLAGS:
                raise invalid
            return FLAGS[value]
        if value is None:
            raise invalid
        try:
            return self.of.to_python(value)
        except ValidationError:
            raise invalid from None


class ShownForm:
    """A form mixin: beside each field of `shown`, the value the page showed, and what the
    person changed measured against it.

    A field of several model choices sends back the ids it showed ticked (`changes`
    says which were ticked and which cleared); any other field its value (`changed`
    says whether it differs). A page shown again after a refused save keeps the values
    it first showed. A value shown that is missing or unreadable refuses the form
    (`RELOAD`) rather than guessing what the page showed.
    """

    shown: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A field the form leaves out (read-only to whoever opens the page) shows nothing.
        self.shown = tuple(name for name in self.shown if name in self.fields)
        for name in self.shown:
            field = self.fields[name]
            many = isinstance(field, forms.ModelMultipleChoiceField)
            hidden = ShownChoices(required=False) if many else ShownValue(field)
            hidden.initial = field.prepare_value(self[name].initial)
            self.fields[f"{name}_shown"] = hidden

    def clean(self):
        cleaned = super().clean()
        if any(f"{name}_shown" in self.errors for name in self.shown):
            # Hidden inputs have no place to show an error: the page says it instead.
            self.add_error(None, RELOAD)
        return cleaned

    def page_errors(self) -> list:
        """Return the form's lists of errors as a page shows them: the values shown are
        one error, said by `RELOAD`, whatever their hidden inputs' own errors."""
        hidden = {f"{name}_shown" for name in self.shown}
        return [errors for name, errors in self.errors.items() if name not in hidden]

    def refused_as_stale(self) -> bool:
        """Tell whether the page's one error is `RELOAD`: nothing on it to correct, the page
        itself is out of date."""
        return self.page_errors() == [[RELOAD]] and self.non_field_errors() == [RELOAD]

    def changes(self, name: str) -> tuple[list, list]:
        """Return the choices of field `name` ticked and those cleared against the page shown."""
        chosen = list(self.cleaned_data[name])
        shown = self.cleaned_data[f"{name}_shown"]
        added = [item for item in chosen if item.pk not in shown]
        cleared = shown - {item.pk for item in chosen}
        return added, list(self.fields[name].queryset.filter(pk__in=cleared))

    def changed(self, name: str) -> bool:
        """Return whether the person changed field `name` against the page shown."""
        if isinstance(self.fields[f"{name}_shown"], ShownChoices):
            return any(self.changes(name))
        return self.cleaned_data[name] != self.cleaned_data[f"{name}_shown"]

    @cached_property
    def changed_data(self) -> list[str]:
        """Return the fields the person changed: those of `shown` against the page shown, any
        other against its initial value, as Django's forms do (the admin's history reads it)."""
        hidden = {f"{name}_shown" for name in self.shown}
        readable = getattr(self, "cleaned_data", {})
        changed = []
        for name, field in self.fields.items():
            if name in hidden:
                continue
            if name in self.shown and {name, f"{name}_shown"} <= readable.keys():
                if self.changed(name):
                    changed.append(name)
            elif field.has_changed(self[name].initial, self[name].data):
                changed.append(name)
        return changed
