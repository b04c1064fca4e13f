"""The review page's decision form."""

from django import forms

from signoffs.models import Verdict


class DecisionForm(forms.Form):
    """A dimension's checklist, a comment and the verdict chosen by the button pressed."""

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required to request changes or reject.",
        max_length=5000,
    )
    verdict = forms.ChoiceField(
        choices=Verdict.choices,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, signoff, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(signoff.checklist.items.all())
        for item in self.items:
            self.fields[f"item_{item.code}"] = forms.BooleanField(
                label=item.text, help_text=item.help_text, required=False
            )
        self.order_fields([f"item_{item.code}" for item in self.items] + ["comment"])

    def checklist(self):
        """Yield (item, bound field) for the template."""
        for item in self.items:
            yield item, self[f"item_{item.code}"]

    def answers(self) -> dict[str, bool]:
        return {item.code: bool(self.cleaned_data.get(f"item_{item.code}")) for item in self.items}
