"""The API tokens page's form: what a signed-in user may give a token of their own."""

import re

from django import forms
from django.core.exceptions import ValidationError

from config.identifiers import SLUG_PATTERN
from config.roles import Scope, scopes_granted
from tokens.services import (
    MAX_BOUND_AGENTS,
    MAX_LIFETIME,
    agents_bindable,
    not_bindable_message,
)

SLUG = re.compile(SLUG_PATTERN)


class TokenCreateForm(forms.Form):
    # In the page's order: the list of a refused form's problems follows it.
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'GitHub Actions'.")
    days = forms.IntegerField(
        label="Expires in (days)", min_value=1, max_value=MAX_LIFETIME.days, initial=90
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Only the scopes your role grants are offered.",
    )
    agents = forms.CharField(
        required=False,
        max_length=MAX_BOUND_AGENTS * 101,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="The slugs of the agents to bind the token to, separated by spaces or "
        "commas (find them under Agents you may bind): it then reaches only them. "
        "None: not bound.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        granted = set(scopes_granted(user))
        self.fields["scopes"].choices = [
            (value, f"{value} — {label}") for value, label in Scope.choices if value in granted
        ]

    def clean_agents(self) -> list:
        """Return the agents the slugs name, or refuse the slugs no agent the user may bind has
        in the words of the API (`tokens.services.not_bindable_message`).

        An agent that does not exist and one of someone else's are refused alike: the
        page does not tell which slugs exist.
        """
        slugs = list(
            dict.fromkeys(s for s in re.split(r"[\s,]+", self.cleaned_data["agents"]) if s)
        )
        if len(slugs) > MAX_BOUND_AGENTS:
            raise ValidationError(f"At most {MAX_BOUND_AGENTS} agents ({len(slugs)} given).")
        found = {
            agent.slug: agent
            for agent in agents_bindable(self.user).filter(
                slug__in=[slug for slug in slugs if SLUG.match(slug)]
            )
        }
        refused = [slug for slug in slugs if slug not in found]
        if refused:
            raise ValidationError(not_bindable_message(refused))
        return [found[slug] for slug in slugs]
