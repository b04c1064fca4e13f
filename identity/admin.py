"""The user admin: Django's, with every change of a user's rights, names, address, password
and existence made through the services that audit it, inside the admin's transaction.

A user's page sends back what it showed (config.shown), and a save applies only what its
administrator changed on it: a change of the user committed since the page was opened
stands unless the administrator changed that very field.
"""

import copy
from functools import partial

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    UserChangeForm,
)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.utils import ErrorList
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from agents.membership import (
    FLAG_CHANGED,
    Source,
    user_flags_set,
    user_groups_change,
    user_permissions_change,
    users_lock,
)
from audit.actors import Actor
from config.admin import UniqueRaceAdmin
from config.shown import RELOAD, ShownForm
from config.usernames import person_username_problem, username_taken_message
from identity.services import (
    NAME_FIELDS,
    user_created_record,
    user_email_set,
    user_names_set,
    user_password_set,
)
from tokens.services import user_tokens_lock

User = get_user_model()
admin.site.unregister(User)


class PasswordSetForm(AdminPasswordChangeForm):
    """Django's password form, saving through user_password_set as `actor`."""

    def __init__(self, user, *args, actor: Actor, **kwargs):
        self.actor = actor
        super().__init__(user, *args, **kwargs)

    def save(self, commit=True):
        usable = self.cleaned_data["set_usable_password"]
        password = self.cleaned_data["password1"] if usable else None
        self.user = user_password_set(self.user, password, actor=self.actor, source=Source.ADMIN)
        return self.user


# The user's fields of several choices, each with the service that adds and removes them.
CHOICES_CHANGED = {"groups": user_groups_change, "user_permissions": user_permissions_change}


class UsernameFreeForm:
    """A user form refusing a username another user holds, in any case, or one of the
    system's own (config.usernames)."""

    def clean_username(self):
        username = self.cleaned_data.get("username")
        problem = username and person_username_problem(username, other_than=self.instance)
        if problem:
            code = "unique" if problem == username_taken_message() else "reserved"
            raise ValidationError(problem, code=code)
        return username


class UserAddForm(UsernameFreeForm, AdminUserCreationForm):
    """Django's form of a new user, its username checked as every rename's is."""


class UserShownChangeForm(UsernameFreeForm, ShownForm, UserChangeForm):
    """Django's user form, sending back what it showed of the fields the services change."""

    shown = (*FLAG_CHANGED, *NAME_FIELDS, "email", *CHOICES_CHANGED)


@admin.register(User)
class CountersignUserAdmin(UniqueRaceAdmin, UserAdmin):
    """Django's user admin, each change through its service; a username another save took
    between the form's check and this one is refused on the form (UniqueRaceAdmin)."""

    form = UserShownChangeForm
    add_form = UserAddForm
    # Its template renders the values shown, in hidden inputs.
    change_form_template = "admin/auth/user/change_form.html"
    # A page opened before a sign-in would post its last login back over it; neither date
    # is anyone's to edit.
    readonly_fields = ("last_login", "date_joined")

    def render_change_form(self, request, context, *args, **kwargs):
        # The page says "error" or "errors" by how many lists of errors it is given, and it
        # shows no hidden input's: a page sent back unlike the one shown is one error.
        form = context["adminform"].form
        if isinstance(form, ShownForm) and form.is_bound and form.refused_as_stale():
            # Its note would ask to correct the fields below, none of which is wrong: the
            # template's own note says instead that the page is out of date.
            context["errors"] = ErrorList()
            context["page_refusal"] = RELOAD
        elif isinstance(form, ShownForm) and form.is_bound:
            context["errors"] = ErrorList(form.page_errors())
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        if not change:
            super().save_model(request, obj, form, change)
            user_created_record(obj, actor=actor, source=Source.ADMIN)
            return
        # Only the fields the administrator changed against the page shown are applied, each
        # through the service that audits it, to the user as they stand under this lock: a
        # change committed since the page opened (a deactivation, a group removed) stands,
        # unless the administrator changed that very field, knowingly, having seen it. The
        # administrator's row is locked with it, in the order each service below locks them.
        users_lock([obj], actor=actor)
        changed = set(form.changed_data)
        posted = form.cleaned_data
        flags = {field: posted[field] for field in FLAG_CHANGED if field in changed}
        if False in flags.values() or "groups" in form.shown and form.changes("groups")[1]:
            # A withdrawal of a flag or a group locks the user's tokens, as user_flags_set and
            # user_groups_change do, but before the rename's event below and the flags' and
            # email's, which save_related's group changes follow: locking a token's row after
            # an event could wait for a write of the token that waits for the audit chain's
            # lock this save then holds.
            user_tokens_lock(obj)
        # The names first: a username another save holds uncommitted makes this write wait
        # for that save, which may wait for the audit chain's lock; no event of this save
        # holds that lock yet, so the two queue instead of deadlocking.
        names = {field: posted[field] for field in NAME_FIELDS if field in changed}
        if names:
            user_names_set(obj, actor=actor, source=Source.ADMIN, **names)
        user_flags_set(obj, actor=actor, source=Source.ADMIN, **flags)
        if "email" in changed:
            user_email_set(obj, posted["email"], actor=actor, source=Source.ADMIN)
        # The admin names the user as saved in its message and history, not as posted.
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        actor = Actor.for_user(request.user)
        changes = {}
        if change:
            # As in save_model: the choices ticked or cleared on the page, and no others.
            changes = {name: form.changes(name) for name in CHOICES_CHANGED if name in form.shown}
            for name in changes:
                form.cleaned_data.pop(name)
        super().save_related(request, form, formsets, change)
        for name, (added, removed) in changes.items():
            CHOICES_CHANGED[name](
                form.instance, actor=actor, source=Source.ADMIN, add=added, remove=removed
            )

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        # Django's view builds its form from `change_password_form` alone, and one admin
        # serves every request: a copy of it carries this request's actor to the form.
        view = copy.copy(self)
        view.change_password_form = partial(PasswordSetForm, actor=Actor.for_user(request.user))
        with transaction.atomic():
            return super(CountersignUserAdmin, view).user_change_password(request, id, form_url)

    def has_delete_permission(self, request, obj=None):
        # A deletion would drop the user's memberships unaudited: deactivate instead.
        return False
