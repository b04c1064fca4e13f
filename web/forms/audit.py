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
    # A browser's datetime-local sends no offset: the labels say the times are read as UTC,
    # the times the list shows, and that "until" is exclusive, as the API's filter has it.
    since = UTCDateTimeField(
        required=False,
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = UTCDateTimeField(
        required=False,
        label="Until (UTC, exclusive)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    before = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    after = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)
