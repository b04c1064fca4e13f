"""The admin's base for rows that change only through the services, which audit each change."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; adds, changes and deletes none, so no change escapes the audit
    trail (a deleted sign-off or finding would also change what the gate decides)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
