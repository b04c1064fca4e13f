"""The admin of agents, teams and groups: every change of membership and of a group's
permissions goes through agents.membership, inside the admin's transaction, so it
commits with its audit event."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group

from agents.membership import Source, group_permissions_set, team_members_set, users_lock
from agents.models import Agent, Observation, Team
from agents.services import team_create
from audit.actors import Actor
from config.admin import ReadOnlyAdmin, UniqueRaceAdmin


@admin.register(Team)
class TeamAdmin(UniqueRaceAdmin):
    """Staff administer teams here; creation and every membership change go through the
    services, so each is an audit event. A slug another team took between the form's check
    and team_create is refused on the form (UniqueRaceAdmin)."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name", "members__username"]
    filter_horizontal = ["members"]
    fields = ["slug", "name", "members"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "name"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not change:
            # The members are locked before the team's event, as team_members_change locks
            # them before its first: save_related adds them after it, in this transaction.
            actor = Actor.for_user(request.user)
            users_lock(form.cleaned_data["members"], actor=actor)
            team = team_create(
                actor=actor,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
            )
            obj.pk = team.pk

    def save_related(self, request, form, formsets, change):
        team_members_set(
            actor=Actor.for_user(request.user),
            team=form.instance,
            members=form.cleaned_data["members"],
            source=Source.ADMIN,
        )

    def has_delete_permission(self, request, obj=None):
        # A deletion would drop the memberships unaudited; agents keep their team (PROTECT).
        return False


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    """Read-only. Reviewers are assigned per agent on the app's reviewers page, which
    audits each grant; the admin offers no object-permission editor that would not."""

    list_display = ["slug", "name", "team", "deployment", "status", "risk_tier", "suspended_at"]
    list_select_related = ["team"]
    list_filter = ["status", "deployment", "risk_tier", "team"]
    search_fields = ["slug", "name", "workload_id"]
    readonly_fields = ["status", "risk_tier", "suspended_at", "suspended_reason"]
    filter_horizontal = ["owners"]


@admin.register(Observation)
class ObservationAdmin(ReadOnlyAdmin):
    list_display = ["agent", "kind", "identifier", "access", "count", "last_seen", "source"]
    list_filter = ["kind", "access"]
    list_select_related = ["agent"]


admin.site.unregister(Group)


@admin.register(Group)
class CountersignGroupAdmin(UniqueRaceAdmin, GroupAdmin):
    """Groups and their permissions, which change through agents.membership. A group keeps
    its name and is never deleted: either would change who holds a role
    (config.roles.Group) without an audit event. A name another group took between the
    form's check and the save is refused on the form (UniqueRaceAdmin)."""

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def save_related(self, request, form, formsets, change):
        permissions = form.cleaned_data.pop("permissions", None)
        super().save_related(request, form, formsets, change)
        if permissions is not None:
            group_permissions_set(
                form.instance,
                permissions,
                actor=Actor.for_user(request.user),
                source=Source.ADMIN,
            )

    def has_delete_permission(self, request, obj=None):
        return False
