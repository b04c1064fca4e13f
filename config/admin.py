"""The admin site, and its base for rows that change only through the services, which audit
each change."""

import re
from functools import update_wrapper

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import IntegrityError
from django.shortcuts import render

from config.errors import AlreadyExists, InvalidInput

# The date hierarchy's parameters. The admin reads them with int() and builds a date,
# turning a ValueError into its "wrong lookup" page, but a number past what a C int holds
# raises OverflowError instead; no year, month or day has more than four digits.
DATE_PART = re.compile(r"__(year|month|day)\Z")
DATE_PART_DIGITS = 4


def query_refusal(query) -> InvalidInput | None:
    """Return why an admin page cannot use its query string, naming the parameter; None if
    it can.

    A NUL anywhere is refused: PostgreSQL holds none in text, and a list filtered by one
    (`?status=%00`) would fail in the database instead of saying why.
    """
    for name in query:
        for value in (name, *query.getlist(name)):
            try:
                ProhibitNullCharactersValidator()(value)
            except ValidationError as error:
                shown = name.replace("\x00", "\\x00")
                return _refusal(shown, f"{shown}: {' '.join(error.messages)}")
        if DATE_PART.search(name) and not all(
            value.isascii() and value.isdigit() and len(value) <= DATE_PART_DIGITS
            for value in query.getlist(name)
        ):
            return _refusal(name, f"{name}: a whole number of at most {DATE_PART_DIGITS} digits.")
    return None


def selection_refusal(post, model) -> InvalidInput | None:
    """Return why the rows a list's bulk action names are no keys of `model`, naming the
    parameter; None if they are.

    The admin filters the list by them as they come (`pk__in`), so one that is no key
    (`abc`, empty, a NUL) raised a ValueError from the query instead of saying why.
    """
    name = ACTION_CHECKBOX_NAME
    for value in post.getlist(name):
        try:
            ProhibitNullCharactersValidator()(value)
            model._meta.pk.to_python(value)
        except ValidationError as error:
            return _refusal(name, f"{name}: {' '.join(error.messages)}", "invalid_selection")
    return None


def _refusal(name: str, message: str, code: str = "invalid_query") -> InvalidInput:
    return InvalidInput(message, code=code, fields={name: [message]})


class AdminSite(admin.AdminSite):
    """Django's admin site, answering a query string none of its lists can read, or a bulk
    action naming rows by what is no key, with a 400 that names the parameter, before any
    view reads it."""

    def admin_view(self, view, cacheable=False):
        # A model admin's views are its bound methods: their rows are its model's. The site's
        # own views (the index, the password change) are the site's.
        model_admin = getattr(view, "__self__", None)
        if not isinstance(model_admin, admin.ModelAdmin):
            model_admin = None

        def checked(request, *args, **kwargs):
            error = query_refusal(request.GET)
            if error is None and request.method == "POST" and model_admin is not None:
                error = selection_refusal(request.POST, model_admin.model)
            if error is not None:
                return render(request, "refused.html", {"error": error}, status=400)
            return view(request, *args, **kwargs)

        # Inside the site's own wrapper: who may not use the admin is sent to sign in, and a
        # POST without its CSRF token refused, before the query is read.
        return super().admin_view(update_wrapper(checked, view), cacheable)


def unique_violated(error: IntegrityError) -> bool:
    """Tell whether the database refused the write for a value a unique constraint holds."""
    cause = error.__cause__
    # PostgreSQL's SQLSTATE unique_violation; SQLite's extended result code.
    return (
        getattr(cause, "sqlstate", None) == "23505"
        or getattr(cause, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE"
    )


class UniqueRaceAdmin(admin.ModelAdmin):
    """An admin whose add and change forms refuse a unique value taken by a save committed
    after the form's own check with the form's error on that field, not a server error.

    A form checks its unique fields before it saves; another save of the same value can
    commit in between, and the database refuses this one (`AlreadyExists` is a service's
    refusal of the same clash). A unique index makes a write of a value another
    transaction holds wait until that transaction ends, so by the refusal the other row is
    committed. The view's transaction rolls back, leaving nothing of the save and no event,
    and the view runs once more: its form's check now finds the row and names the field.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (IntegrityError, AlreadyExists) as error:
            if isinstance(error, IntegrityError) and not unique_violated(error):
                raise
        return super().changeform_view(request, object_id, form_url, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; adds, changes and deletes none, so no change escapes the audit
    trail (a deleted sign-off or finding would also change what the gate decides)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
