"""Forms of the staff pages: a user's groups and teams, an agent's assigned reviewers."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from agents.models import Team
from agents.permissions import ASSIGNABLE_PERMISSIONS
from config.identifiers import identifier_message
from web.vocabulary import in_order, label


class ShownField(forms.Field):
    """The ids of the choices a page was rendered with ticked, sent back in hidden inputs."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "Not ids of the choices shown."}

    def to_python(self, value) -> set[int]:
        try:
            return {int(item) for item in value or ()}
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class MembershipForm(forms.Form):
    """A user's groups and teams, and those the page showed them in.

    A save applies only the boxes the person ticked or cleared against the page as
    rendered (`changes`): a group or team someone else (or a sign-in through the
    identity provider) added or removed after the page was opened stands. A post
    that does not say what it showed removes nothing.
    """

    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by(*in_order("group", "name")),
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
    groups_shown = ShownField(required=False)
    teams_shown = ShownField(required=False)

    def __init__(self, *args, member=None, **kwargs):
        if member is not None:
            groups, teams = list(member.groups.all()), list(member.teams.all())
            kwargs["initial"] = {
                "groups": groups,
                "teams": teams,
                "groups_shown": [group.pk for group in groups],
                "teams_shown": [team.pk for team in teams],
            }
        super().__init__(*args, **kwargs)
        # A group of the vocabulary in its words; any other by its name.
        self.fields["groups"].label_from_instance = lambda group: label("group", group.name)
        self.fields["teams"].label_from_instance = lambda team: f"{team.name} ({team.slug})"

    def clean(self):
        cleaned = super().clean()
        if any(name in self.errors for name in ("groups_shown", "teams_shown")):
            # Hidden inputs have no place to show an error: the page says it instead.
            self.add_error(None, "The page sent back is not the one shown: reload it.")
        return cleaned

    def changes(self, name: str) -> tuple[list, list]:
        """Return the choices of field `name` ticked and those cleared against the page shown."""
        chosen = list(self.cleaned_data[name])
        shown = self.cleaned_data[f"{name}_shown"]
        added = [item for item in chosen if item.pk not in shown]
        cleared = shown - {item.pk for item in chosen}
        return added, list(self.fields[name].queryset.filter(pk__in=cleared))


class UserSearchForm(forms.Form):
    q = forms.CharField(
        label="Username contains", required=False, max_length=150, widget=forms.SearchInput
    )


class AssignmentForm(forms.Form):
    permission = forms.ChoiceField(
        label="Assignment",
        choices=list(ASSIGNABLE_PERMISSIONS.items()),
        help_text="Once a dimension has assigned reviewers, only they decide it for this agent.",
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
        user = get_user_model().objects.filter(username=name).first()
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
