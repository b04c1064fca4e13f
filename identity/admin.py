"""The user admin: Django's, with every change of a user's rights, names, address, password
and existence made through the services that audit it, inside the admin's transaction."""

import copy
from functools import partial

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from agents.membership import (
    FLAG_CHANGED,
    Source,
    user_flags_set,
    user_lock,
    user_permissions_set,
)
from agents.membership import user_groups_set as membership_groups_set
from audit.actors import Actor
from identity.services import (
    NAME_FIELDS,
    user_created_record,
    user_email_set,
    user_names_set,
    user_password_set,
)

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


@admin.register(User)
class CountersignUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        if not change:
            super().save_model(request, obj, form, change)
            user_created_record(obj, actor=actor, source=Source.ADMIN)
            return
        # Only what this form changed is applied, each field through the service that
        # audits it. The form was filled from the row as read before this lock: a change
        # of the user committed meanwhile (a deactivation, a group removed at sign-in)
        # stands, unless the form changes that very field.
        user_lock(obj)
        changed = set(form.changed_data)
        audited = {*FLAG_CHANGED, *NAME_FIELDS, "email"}
        plain = {field.name for field in obj._meta.concrete_fields} - audited - {"password"}
        if plain & changed:
            obj.save(update_fields=sorted(plain & changed))
        flags = {field: getattr(obj, field) for field in FLAG_CHANGED if field in changed}
        user_flags_set(obj, actor=actor, source=Source.ADMIN, **flags)
        if "email" in changed:
            user_email_set(obj, obj.email, actor=actor, source=Source.ADMIN)
        names = {field: getattr(obj, field) for field in NAME_FIELDS if field in changed}
        if names:
            user_names_set(obj, actor=actor, source=Source.ADMIN, **names)

    def save_related(self, request, form, formsets, change):
        actor = Actor.for_user(request.user)
        groups = form.cleaned_data.pop("groups", None)
        permissions = form.cleaned_data.pop("user_permissions", None)
        super().save_related(request, form, formsets, change)
        # As in save_model: a field this form left as shown is left as it now stands.
        if groups is not None and "groups" in form.changed_data:
            membership_groups_set(form.instance, groups, actor=actor, source=Source.ADMIN)
        if permissions is not None and "user_permissions" in form.changed_data:
            user_permissions_set(form.instance, permissions, actor=actor, source=Source.ADMIN)

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
