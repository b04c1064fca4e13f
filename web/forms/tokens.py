"""The API tokens page's form: what a signed-in user may give a token of their own."""

from django import forms

from config.roles import Scope, scopes_granted
from tokens.services import MAX_LIFETIME, agents_bindable


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'GitHub Actions'.")
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Only the scopes your role grants are offered.",
    )
    agents = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Bind the token to these agents: it then reaches only them. None: not bound.",
    )
    days = forms.IntegerField(
        label="Expires in (days)", min_value=1, max_value=MAX_LIFETIME.days, initial=90
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        granted = set(scopes_granted(user))
        self.fields["scopes"].choices = [
            (value, f"{value} — {label}") for value, label in Scope.choices if value in granted
        ]
        self.fields["agents"].queryset = agents_bindable(user).order_by("slug")
        self.fields["agents"].label_from_instance = lambda agent: f"{agent.name} ({agent.slug})"
