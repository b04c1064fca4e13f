from django.contrib import admin

from approvals.models import ApprovalPackage, DriftFinding, ScopeEntry
from config.admin import ReadOnlyAdmin


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
