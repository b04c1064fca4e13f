"""Forms of the staff pages: a user's groups and teams, an agent's assigned reviewers."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from agents.models import Team
from agents.permissions import ASSIGNABLE_PERMISSIONS
from config.identifiers import identifier_message
from config.ordering import ranked
from config.roles import Group as Role
from config.shown import ShownForm
from config.usernames import user_named
from web.vocabulary import label


class MembershipForm(ShownForm, forms.Form):
    """A user's groups and teams, and those the page showed them in.

    A save applies only the boxes the person ticked or cleared against the page as
    rendered (`changes`, config.shown): a group or team someone else (or a sign-in
    through the identity provider) added or removed after the page was opened stands.
    A post that does not say what it showed removes nothing.
    """

    shown = ("groups", "teams")

    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by(ranked(Role, "name"), "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A reviewer group's members decide its sign-off dimension.",
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A team's members see and register its agents.",
    )

    def __init__(self, *args, member=None, **kwargs):
        if member is not None:
            kwargs["initial"] = {
                "groups": list(member.groups.all()),
                "teams": list(member.teams.all()),
            }
        super().__init__(*args, **kwargs)
        # A group of the vocabulary in its words; any other by its name.
        self.fields["groups"].label_from_instance = lambda group: label("group", group.name)
        self.fields["teams"].label_from_instance = lambda team: f"{team.name} ({team.slug})"


class UserSearchForm(forms.Form):
    q = forms.CharField(
        label="Username contains", required=False, max_length=150, widget=forms.SearchInput
    )


class AssignmentForm(forms.Form):
    permission = forms.ChoiceField(
        label="Assignment",
        choices=list(ASSIGNABLE_PERMISSIONS.items()),
        help_text=(
            "Once a dimension has assigned reviewers, only they decide it for this agent. "
            "The kill switch goes to someone who sees the agent; a product owner pulls it "
            "in the browser, not with an API token."
        ),
    )
    user = forms.CharField(
        label="Username",
        max_length=150,
        help_text="A review assignment needs a member of the dimension's reviewer group.",
    )

    def clean_user(self):
        name = self.cleaned_data["user"].strip()
        message = identifier_message(name)
        if message:
            raise forms.ValidationError(message)
        user = user_named(name)
        if user is None:
            raise forms.ValidationError(f"No user {name!r}.")
        return user


class UnassignForm(forms.Form):
    """A Revoke button's hidden fields; their errors are shown as the page's message."""

    permission = forms.ChoiceField(
        choices=list(ASSIGNABLE_PERMISSIONS.items()),
        error_messages={"invalid_choice": "%(value)s is not an assignment."},
    )
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        error_messages={"invalid_choice": "this user no longer exists."},
    )

    def refusal(self) -> str:
        """Return why nothing was unassigned, for an invalid form."""
        reasons = [str(message) for messages in self.errors.values() for message in messages]
        return f"Nothing was unassigned: {' '.join(reasons)}"
