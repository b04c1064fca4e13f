"""Tokens in the admin: created through the service (secret shown once), revoked by action,
never deleted."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.forms.models import ModelChoiceIterator
from django.template.defaultfilters import pluralize
from django.utils import timezone

from audit.actors import Actor
from config.errors import ApplicationError, InvalidInput
from tokens.models import ApiToken, Scope, TokenState
from tokens.services import token_create, token_revoke, token_users, token_validate


class OfferedChoiceIterator(ModelChoiceIterator):
    """List the field's `offered` objects rather than all its queryset reads."""

    def __init__(self, field):
        super().__init__(field)
        self.queryset = field.offered


class TokenUserField(forms.ModelChoiceField):
    """A token's user, offered from those its creator may choose (tokens.services.token_users)
    and read from every user: one not offered, from a stale page or a crafted request, is
    refused by token_validate, which says why, rather than as an unknown choice."""

    iterator = OfferedChoiceIterator
    offered = None  # set per request by the form, from its actor


class ApiTokenCreateForm(forms.ModelForm):
    actor: Actor | None = None  # who creates the token, set per request by the admin
    user = TokenUserField(queryset=get_user_model().objects.all())
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    allowed_networks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One CIDR per line (e.g. 10.0.0.0/8); empty means anywhere.",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "agents", "expires_at", "allowed_networks"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.none()
        if self.actor is not None:
            users = token_users(actor=self.actor).filter(is_active=True)
        field = self.fields["user"]
        field.offered = users.order_by("username")
        field.widget.choices = field.choices  # as a queryset set on the field refreshes them

    def clean_allowed_networks(self):
        lines = self.cleaned_data["allowed_networks"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean(self):
        cleaned = super().clean()
        if self.actor is not None and not self.actor.authentication.is_fresh():
            # The service refuses it too; here the admin shows why instead of failing.
            self.add_error(None, "Sign in again (log out and in) before creating a token.")
        try:
            token_validate(
                user=cleaned.get("user"),
                name=cleaned.get("name", ""),
                scopes=cleaned.get("scopes", []),
                expires_at=cleaned.get("expires_at"),
                allowed_networks=cleaned.get("allowed_networks", []),
                agents=cleaned.get("agents") or (),
                actor=self.actor,
            )
        except InvalidInput as error:
            for field, problems in error.fields.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, problems)
        return cleaned


class TokenStateFilter(admin.SimpleListFilter):
    """Filter by the state the State column shows (`tokens.models.token_state`)."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return TokenState.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in TokenState.values:
            # The admin answers this by showing the list unfiltered, with its "?e=1" note.
            raise IncorrectLookupParameters(f"No token state {self.value()!r}.")
        return queryset.in_state(TokenState(self.value()), now=timezone.now())


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "state", "expires_at", "last_used_at", "revoked_at"]
    list_filter = [TokenStateFilter, "revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scopes",
        "allowed_networks",
        "agents",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
        "state",
    ]

    def get_queryset(self, request):
        # The state shown names the user's activation: read with the token, not per row.
        return super().get_queryset(request).select_related("user")

    @admin.display(description="State")
    def state(self, token: ApiToken) -> str:
        return token.state().label

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        form = super().get_form(request, obj, **kwargs)
        form.actor = Actor.for_session(request)
        return form

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ApiTokenCreateForm.Meta.fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, secret = token_create(
            actor=Actor.for_session(request),
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            allowed_networks=form.cleaned_data["allowed_networks"],
            agents=form.cleaned_data["agents"],
        )
        # The admin goes on with `obj`: its log entry and redirect name the token created.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        self.message_user(
            request,
            f"Token {token.prefix} created. Copy its secret now, it is not shown again: {secret}",
            messages.WARNING,
        )

    def save_related(self, request, form, formsets, change):
        """Save nothing more: token_create bound the agents, audited, and a token never changes."""

    def has_delete_permission(self, request, obj=None):
        # A deletion would end the token with no `token.revoked` event and lose its
        # last use: revoke instead.
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        """Revoke each selected token in a transaction of its own, with its event; say which
        were revoked and, one by one, which were not and why (already revoked, refused)."""
        actor = Actor.for_user(request.user)
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if selected and request.POST.get("select_across") != "1":
            # The tokens ticked, not those of them the list's filter still holds: one revoked
            # or expired since the page was shown is named too, not passed over unsaid.
            queryset = ApiToken.objects.filter(pk__in=selected)
        revoked, refused = [], []
        for token in queryset.order_by("pk"):
            named = f"{token.prefix} ({token.name})"
            try:
                token_revoke(actor=actor, token=token)
            except ApplicationError as error:
                refused.append(f"Token {named} not revoked: {error.message}")
            else:
                revoked.append(named)
        if revoked:
            count = len(revoked)
            said = f"Revoked {count} token{pluralize(count)}: {', '.join(revoked)}."
            self.message_user(request, said, messages.SUCCESS)
        for said in refused:
            self.message_user(request, said, messages.WARNING)
