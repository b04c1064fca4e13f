from django.contrib import admin

from approvals.manifest import fields_named
from approvals.models import ApprovalPackage, DriftFinding, ScopeEntry
from config.admin import ReadOnlyAdmin
from signoffs.models import Checklist, ChecklistItem


class ScopeEntryInline(admin.TabularInline):
    model = ScopeEntry
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in ScopeEntry._meta.fields if f.name != "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalPackage)
class ApprovalPackageAdmin(ReadOnlyAdmin):
    """Packages change state only through the workflow's services."""

    list_display = ["agent", "version", "state", "risk_tier", "submitted_at", "expires_at"]
    list_filter = ["state", "risk_tier", "is_recertification"]
    list_select_related = ["agent"]
    search_fields = ["agent__slug", "digest"]
    inlines = [ScopeEntryInline]


@admin.register(DriftFinding)
class DriftFindingAdmin(ReadOnlyAdmin):
    list_display = ["agent", "kind", "identifier", "access", "severity", "status", "count"]
    list_filter = ["severity", "status", "kind"]
    list_select_related = ["agent"]


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0
    fields = ["code", "text", "help_text", "controls", "required", "order", "covered_fields"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description="Covers")
    def covered_fields(self, item: ChecklistItem) -> str:
        """Name the manifest fields the item covers in words, each with its path."""
        return fields_named(item.covers) or "-"


@admin.register(Checklist)
class ChecklistAdmin(ReadOnlyAdmin):
    """Checklists are shipped as data and loaded by `load_checklists`, never edited here."""

    list_display = ["dimension", "version", "title", "is_active"]
    inlines = [ChecklistItemInline]
