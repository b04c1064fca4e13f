from django.contrib import admin

from config.admin import ReadOnlyAdmin
from signoffs.models import Checklist, ChecklistItem, Decision, SignOff


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0
    readonly_fields = ["code", "text", "help_text", "controls", "required", "order"]
    can_delete = False


@admin.register(Checklist)
class ChecklistAdmin(ReadOnlyAdmin):
    list_display = ["dimension", "version", "title", "is_active"]
    inlines = [ChecklistItemInline]


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    readonly_fields = ["reviewer", "verdict", "comment", "answers", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["package", "dimension", "state", "required_approvals"]
    list_filter = ["dimension", "state"]
    list_select_related = ["package__agent"]
    inlines = [DecisionInline]
