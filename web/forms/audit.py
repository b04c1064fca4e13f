"""The audit log page's filters."""

from django import forms

from config.times import UTCDateTimeField


class AuditFilterForm(forms.Form):
    agent = forms.CharField(required=False, max_length=64, label="Agent slug")
    actor = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "username"}),
    )
    action = forms.CharField(required=False, max_length=64)
    since = UTCDateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = UTCDateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    before = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    after = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)
