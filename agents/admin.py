from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from agents.models import Agent, Observation


@admin.register(Agent)
class AgentAdmin(GuardedModelAdmin):
    list_display = ["slug", "name", "team", "deployment", "status", "risk_tier", "suspended_at"]
    list_filter = ["status", "deployment", "risk_tier", "team"]
    search_fields = ["slug", "name", "workload_id"]
    readonly_fields = ["status", "risk_tier", "suspended_at", "suspended_reason"]
    filter_horizontal = ["owners"]

    def has_add_permission(self, request):
        # Agents are created through the service so the audit trail records it.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Observation)
class ObservationAdmin(admin.ModelAdmin):
    list_display = ["agent", "kind", "identifier", "access", "count", "last_seen", "source"]
    list_filter = ["kind", "access"]
    list_select_related = ["agent"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
