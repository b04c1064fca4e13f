"""Agents (non-human identities with execution authority) and what they were seen using."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from agents.permissions import AGENT_PERMISSIONS, sees_every_agent
from agents.vocabulary import Deployment
from config.identifiers import AGENT_SLUG_MAX_LENGTH
from config.roles import SEE_EVERY_AGENT_GROUPS


class AgentStatus(models.TextChoices):
    NEW = "new", "New"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Approval expired"
    SUSPENDED = "suspended", "Suspended"
    RETIRED = "retired", "Retired"


TEAM_SLUG_LENGTH = 100
TEAM_NAME_LENGTH = 200
# The most owners one request names: enough for any team, and a bound on the lookups.
OWNERS_MAX = 100
# The constraint keeping one active agent per workload identity.
UNIQUE_WORKLOAD_ID = "unique_workload_id_among_active_agents"


class Team(models.Model):
    """A team of product owners; staff administer its members, who see its agents."""

    slug = models.SlugField(max_length=TEAM_SLUG_LENGTH, unique=True)
    name = models.CharField(max_length=TEAM_NAME_LENGTH)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class AgentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Return the agents the user may see: staff and reviewers see all, owners the
        agents they own and those of the teams they are members of."""
        if not user.is_authenticated:
            return self.none()
        if sees_every_agent(user):
            return self
        # Asked per agent row: the owners' and members' unique indexes answer it,
        # however many agents the user owns.
        return self.filter(_owner_or_member(user, OuterRef("pk"), OuterRef("team")))


def _owner_or_member(user, agent, team) -> Q:
    """Return the condition that `user` owns `agent` or is a member of `team`, each a value
    or an OuterRef: the part of seeing an agent that depends on the agent."""
    owned = Agent.owners.through.objects.filter(agent=agent, user=user)
    member = Team.members.through.objects.filter(team=team, user=user)
    return Exists(owned) | Exists(member)


def viewer_condition(agent, user_id: str = "pk") -> Q:
    """Return the condition a user meets when they may see the agent, as
    `AgentQuerySet.visible_to` decides it, read from the users' side: to filter or annotate
    many users in one query. `user_id` names the user's id in the query it is put in (a
    user's own pk by default). The agent's row gives its team as it was read.

    Staff and the groups that see every agent (`sees_every_agent`), then owners and the
    members of its team; tests/agents/test_kill_switch_grant.py holds it to `visible_to`.
    """
    user = OuterRef(user_id)
    users = get_user_model().objects
    staff = users.filter(pk=user, is_staff=True)
    groups = users.model.groups.through.objects.filter(
        user_id=user, group__name__in=list(SEE_EVERY_AGENT_GROUPS)
    )
    return Exists(staff) | Exists(groups) | _owner_or_member(user, agent.pk, agent.team_id)


class Agent(models.Model):
    slug = models.SlugField(max_length=AGENT_SLUG_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="agents"
    )
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="owned_agents")
    workload_id = models.CharField("workload identity (SPIFFE ID)", max_length=2048)
    log_principal = models.CharField(max_length=200)
    deployment = models.CharField(max_length=32, choices=Deployment.choices)
    # Derived by approvals' services from the packages and the kill switch.
    status = models.CharField(
        max_length=32, choices=AgentStatus.choices, default=AgentStatus.NEW, editable=False
    )
    risk_tier = models.CharField(max_length=16, blank=True, editable=False, db_index=True)
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)
    suspended_reason = models.TextField(blank=True, editable=False)
    # Retirement is final: the agent's history stays, it never ships again.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_reason = models.TextField(blank=True, default="", db_default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        permissions = AGENT_PERMISSIONS
        constraints = [
            models.UniqueConstraint(
                fields=["workload_id"],
                condition=~Q(status=AgentStatus.RETIRED),
                name=UNIQUE_WORKLOAD_ID,
            )
        ]

    def __str__(self):
        return self.slug

    def get_absolute_url(self):
        return reverse("agent-detail", kwargs={"slug": self.slug})

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class ObservationKind(models.TextChoices):
    ACTION = "action", "Action"
    TOOL = "tool", "Tool"
    DATASET = "dataset", "Dataset"
    ENDPOINT = "endpoint", "Endpoint"
    EXTERNAL_API = "external_api", "External API"
    MODEL = "model", "Model"
    PROMPT = "prompt", "Prompt digest"


class Observation(models.Model):
    """What the runtime reported the agent used, aggregated per kind, identifier and access."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="observations")
    kind = models.CharField(max_length=16, choices=ObservationKind.choices)
    identifier = models.CharField(max_length=2048)
    access = models.CharField(max_length=16, blank=True)
    count = models.BigIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "kind", "identifier", "access"], name="one_observation_per_use"
            )
        ]

    def __str__(self):
        return f"{self.agent_id}: {self.kind} {self.identifier} ({self.access})"


class UsageDay(models.Model):
    """One agent's uses of one kind, identifier and access level on one day (UTC).

    `uses` counts what the runtime used: uses it reported and evaluations the
    decision point allowed; `denies` the evaluations it denied; `decisions`
    every evaluation the decision point answered (allowed or denied), which
    shows that the agent's enforcement point asks. Kept about USAGE_DAYS_KEPT
    days (agents.usage).
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="usage_days")
    kind = models.CharField(max_length=16, choices=ObservationKind.choices)
    identifier = models.CharField(max_length=2048)
    access = models.CharField(max_length=16, blank=True)
    day = models.DateField(db_index=True)
    uses = models.BigIntegerField(default=0)
    denies = models.BigIntegerField(default=0)
    decisions = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "kind", "identifier", "access", "day"], name="one_usage_per_day"
            )
        ]
        indexes = [models.Index(fields=["agent", "day"], name="usage_day_agent_day")]

    def __str__(self):
        return f"{self.agent_id} {self.day}: {self.kind} {self.identifier} ({self.access})"
