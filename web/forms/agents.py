"""Forms of the agent pages: filters, registration, editing, the kill switch, findings."""

from django import forms

from agents.filters import AgentFilterSet
from agents.models import Team
from agents.services import users_by_username
from agents.vocabulary import Deployment
from approvals.models import FINDING_TEXT_MAX_LENGTH
from config.errors import InvalidInput
from config.identifiers import (
    AGENT_SLUG_MAX_LENGTH,
    AGENT_SLUG_MESSAGE,
    AGENT_SLUG_PATTERN,
    AGENT_SLUG_RULE,
    validate_identifier,
)
from config.reasons import REASON_MAX_LENGTH
from web import selectors

BLANK = [("", "Any")]


def agent_filters(data, queryset, user) -> AgentFilterSet:
    """Return the agent list's filters (the API's FilterSet), teams offered from those visible.

    A value that is not valid is left out of the filtering, not shown as an error page.
    """
    filters = AgentFilterSet(data, queryset=queryset)
    fields = filters.form.fields
    teams = [(team, team) for team in selectors.teams_visible(user)]
    fields["team"].widget = forms.Select(choices=BLANK + teams)
    for name in ("status", "deployment", "risk_tier"):
        fields[name].widget.attrs["size"] = 4
    return filters


def _team_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Team.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label="No team",
        help_text="Its team's members see the agent. Staff administer teams and their members.",
    )


# The forms declare their fields in the order their pages show them: the list of a
# refused form's problems above it (templates/_form_errors.html) follows that order.
class AgentCreateForm(forms.Form):
    slug = forms.RegexField(
        AGENT_SLUG_PATTERN,
        max_length=AGENT_SLUG_MAX_LENGTH,
        error_messages={"invalid": AGENT_SLUG_MESSAGE},
        help_text="The identifier CI uses in the manifest's agent field; it never changes: "
        + AGENT_SLUG_RULE,
    )
    name = forms.CharField(max_length=200)
    team = _team_field()
    deployment = forms.ChoiceField(choices=Deployment.choices)
    workload_id = forms.CharField(
        label="Workload identity (SPIFFE ID)",
        max_length=2048,
        help_text="spiffe://<trust domain>/<path>, e.g. spiffe://prod.example.com/ns/support/sa/bot",
    )
    log_principal = forms.CharField(
        max_length=200,
        help_text="How the agent's actions are attributed in logs.",
        validators=[validate_identifier],
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = selectors.teams_choosable(user)


class AgentUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    team = _team_field()
    owners = forms.CharField(
        help_text="Usernames of the product owners, separated by commas. While a package is "
        "in review, no one who may review it can be added.",
        max_length=2000,
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, user, agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = selectors.teams_choosable(user, current=agent.team)

    def clean_owners(self) -> list:
        names = sorted({n.strip() for n in self.cleaned_data["owners"].split(",") if n.strip()})
        if not names:
            raise forms.ValidationError("Name at least one owner.")
        try:
            return users_by_username(names)
        except InvalidInput as error:
            raise forms.ValidationError(error.fields["owners"]) from None


class StopForm(forms.Form):
    """The reason an agent is suspended or retired."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded in the audit trail and sent with the kill-switch webhook.",
    )


class FindingForm(forms.Form):
    """Acknowledge a drift finding (a note is optional) or resolve it (say how)."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    action = forms.ChoiceField(
        choices=[(ACKNOWLEDGE, "Acknowledge: seen, still live"), (RESOLVE, "Resolve: close it")],
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label="Note or resolution",
        required=False,
        max_length=FINDING_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit trail; required to resolve.",
    )
