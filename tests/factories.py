"""factory_boy factories and small builders shared by the tests."""

import copy
from datetime import timedelta
from pathlib import Path

import factory
import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from agents.models import Agent, Deployment, Team

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=name)[0])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        for user in extracted or ():
            self.members.add(user)


class AgentFactory(factory.django.DjangoModelFactory):
    """An agent of team customer-care; `team` may be a team's slug (the team is made if
    missing) or None. Its owners are members of its team, as registering requires."""

    class Meta:
        model = Agent
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"agent-{n}")
    name = factory.LazyAttribute(lambda a: a.slug.replace("-", " ").title())
    team = "customer-care"
    workload_id = factory.LazyAttribute(lambda a: f"spiffe://prod.example.com/ns/test/sa/{a.slug}")
    log_principal = factory.LazyAttribute(lambda a: f"agent:{a.slug}")
    deployment = Deployment.CUSTOMER_FACING

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        if isinstance(kwargs.get("team"), str):
            kwargs["team"] = TeamFactory(slug=kwargs["team"])
        return kwargs

    @factory.post_generation
    def owners(self, create, extracted, **kwargs):
        for user in extracted or ():
            self.owners.add(user)
            if self.team is not None:
                self.team.members.add(user)


def example(name: str = "support-agent.yaml") -> dict:
    """Return a reference manifest with a kill switch tested last week."""
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    doc["kill_switch"]["last_tested"] = (timezone.now().date() - timedelta(days=7)).isoformat()
    return doc


def manifest_for(target: Agent, example_name: str = "support-agent.yaml", **changes) -> dict:
    """Return a reference manifest rewritten for the given agent."""
    doc = copy.deepcopy(example(example_name))
    doc["agent"] = target.slug
    doc["name"] = target.name
    doc["team"] = target.team.slug if target.team else ""
    doc["deployment"] = target.deployment
    doc["identity"]["workload_id"] = target.workload_id
    doc["identity"]["log_principal"] = target.log_principal
    doc.update(changes)
    return doc


class DriftFindingFactory(factory.django.DjangoModelFactory):
    """An open critical finding: an unapproved shell tool run with execute access."""

    class Meta:
        model = "approvals.DriftFinding"

    kind = "tool"
    identifier = "shell"
    access = "execute"
    reason = factory.LazyAttribute(lambda f: f"unapproved_{f.kind}")
    severity = "critical"
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda f: f.first_seen)
