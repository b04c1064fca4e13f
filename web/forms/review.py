"""The review page's decision form."""

from django import forms

from signoffs.models import Verdict
from web.forms.errors import form_problems


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
        error_messages={
            "required": "Nothing was decided: choose Approve, Request changes or Reject."
        },
    )
    # An approval is recorded only from the confirmation step, which sets this.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, signoff, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(signoff.checklist.items.all())
        # What this sign-off's review depth requires, which may be less than the checklist's.
        self.required = {item.code for item in self.items if signoff.item_required(item)}
        for item in self.items:
            self.fields[f"item_{item.code}"] = forms.BooleanField(
                label=item.text, help_text=item.help_text, required=False
            )
        self.order_fields([f"item_{item.code}" for item in self.items] + ["comment"])

    def checklist(self):
        """Yield (item, bound field, whether approving needs it) for the template."""
        for item in self.items:
            yield item, self[f"item_{item.code}"], item.code in self.required

    def error_summary(self) -> list[tuple[str, str, str]]:
        """Return (label, message, anchor id) of each error, in the form's order.

        A checklist item is named by its code; errors of no visible field link to the
        verdict buttons.
        """
        codes = {f"item_{item.code}": item.code for item in self.items}
        return form_problems(self, labels=codes, elsewhere=("Decision", f"verdicts-{self.prefix}"))

    def answers(self) -> dict[str, bool]:
        return {item.code: bool(self.cleaned_data.get(f"item_{item.code}")) for item in self.items}

    def needs_confirmation(self) -> bool:
        """Return whether this valid form approves without having been confirmed."""
        return (
            self.cleaned_data["verdict"] == Verdict.APPROVE and not self.cleaned_data["confirmed"]
        )

    def confirmation(self) -> dict:
        """Return what the approval's confirmation step shows and posts again."""
        answers = self.answers()
        hidden = [(self.add_prefix(f"item_{code}"), "on") for code, on in answers.items() if on]
        hidden += [
            (self.add_prefix("comment"), self.cleaned_data["comment"]),
            (self.add_prefix("verdict"), Verdict.APPROVE),
            (self.add_prefix("confirmed"), "1"),
        ]
        return {
            "dimension": self.prefix,
            "ticked": [item for item in self.items if answers[item.code]],
            "unticked": [
                (item, item.code in self.required) for item in self.items if not answers[item.code]
            ],
            "comment": self.cleaned_data["comment"],
            "hidden": hidden,
        }
