"""Forms of the agent pages: filters, registration, editing, the kill switch, findings."""

from django import forms
from django.contrib.auth import get_user_model

from agents.models import AgentStatus, Deployment
from approvals.models import FINDING_TEXT_MAX_LENGTH, RiskTier

BLANK = [("", "Any")]


class AgentFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(choices=BLANK + AgentStatus.choices, required=False)
    team = forms.ChoiceField(choices=BLANK, required=False)
    deployment = forms.ChoiceField(choices=BLANK + Deployment.choices, required=False)
    risk_tier = forms.ChoiceField(
        label="Risk tier", choices=BLANK + RiskTier.choices, required=False
    )

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = BLANK + [(team, team) for team in teams]

    def filters(self) -> dict:
        """Return the valid filter values; an invalid one is ignored, not an error page."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}


class AgentCreateForm(forms.Form):
    slug = forms.SlugField(
        max_length=63,
        help_text="The identifier CI uses in the manifest's `agent` field; it never changes.",
    )
    name = forms.CharField(max_length=200)
    team = forms.CharField(max_length=100, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    workload_id = forms.CharField(
        label="Workload identity (SPIFFE ID)",
        max_length=2048,
        help_text="spiffe://<trust domain>/<path>, e.g. spiffe://prod.example.com/ns/support/sa/bot",
    )
    log_principal = forms.CharField(
        max_length=200, help_text="How the agent's actions are attributed in logs."
    )
    deployment = forms.ChoiceField(choices=Deployment.choices)


class AgentUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    team = forms.CharField(max_length=100, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    owners = forms.CharField(
        help_text="Usernames of the product owners, separated by commas.", max_length=2000
    )

    def clean_owners(self) -> list:
        names = sorted({n.strip() for n in self.cleaned_data["owners"].split(",") if n.strip()})
        users = list(get_user_model().objects.filter(username__in=names, is_active=True))
        missing = set(names) - {user.username for user in users}
        if missing:
            raise forms.ValidationError(f"No such user: {', '.join(sorted(missing))}.")
        if not users:
            raise forms.ValidationError("Name at least one owner.")
        return users


class SuspendForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
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
