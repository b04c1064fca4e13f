"""Forms of the emergency release pages."""

from django import forms

from config.reasons import REASON_MAX_LENGTH


class EmergencyRequestForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        help_text="Why this cannot wait for the full review; the security and PAM reviewers "
        "read it, and the audit trail keeps it.",
    )
