from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from agents.models import Agent, Observation, Team
from agents.services import team_create, team_members_change
from audit.actors import Actor


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Staff administer teams here; creation and every membership change go through the
    services, so each is an audit event."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name", "members__username"]
    filter_horizontal = ["members"]
    fields = ["slug", "name", "members"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "name"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not change:
            team = team_create(
                actor=Actor.for_user(request.user),
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
            )
            obj.pk = team.pk

    def save_related(self, request, form, formsets, change):
        team = form.instance
        wanted = set(form.cleaned_data["members"])
        current = set(team.members.all())
        team_members_change(
            actor=Actor.for_user(request.user),
            team=team,
            add=wanted - current,
            remove=current - wanted,
        )

    def has_delete_permission(self, request, obj=None):
        # A deletion would drop the memberships unaudited; agents keep their team (PROTECT).
        return False


@admin.register(Agent)
class AgentAdmin(GuardedModelAdmin):
    list_display = ["slug", "name", "team", "deployment", "status", "risk_tier", "suspended_at"]
    list_select_related = ["team"]
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
