"""Registering and changing agents: validation, ownership, audit events."""

import pytest

from agents.models import Agent
from agents.services import agent_create
from approvals.ownership import agent_update
from audit.actors import Actor
from config.errors import AlreadyExists, InvalidInput, NotPermitted
from config.identifiers import AGENT_SLUG_MESSAGE
from tests.concurrency import chain_held, queued
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def create(actor, **overrides):
    """Register an agent; by default for team payments, of which the actor is a member."""
    fields = {
        "slug": "refund-bot",
        "name": "Refund bot",
        "workload_id": "spiffe://prod.example.com/ns/pay/sa/refund-bot",
        "log_principal": "agent:refund-bot",
        "deployment": "customer_facing",
    }
    fields.update(overrides)
    if "team" not in fields:
        fields["team"] = TeamFactory(slug="payments", members=[actor.user])
    return agent_create(actor=actor, **fields)


def test_create_makes_the_creator_owner_and_audits(owner, audit_since):
    since = audit_since()
    agent = create(Actor.for_user(owner))
    assert list(agent.owners.all()) == [owner]
    (event,) = since()
    assert (event.action, event.actor_label, event.agent_slug) == (
        "agent.created",
        "owner",
        "refund-bot",
    )
    assert event.after["owners"] == ["owner"]


@pytest.mark.parametrize(
    "workload_id",
    [
        "https://prod.example.com/refund-bot",
        "spiffe://Prod.Example.com/ns/x",
        "spiffe://prod.example.com",
        "spiffe://prod.example.com/ns/../x",
        "spiffe://prod.example.com/ns/x/",
        "spiffe://prod.example.com/ns/x?y=1",
    ],
)
def test_invalid_spiffe_id_is_refused_with_its_field(owner, workload_id, audit_since):
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        create(Actor.for_user(owner), workload_id=workload_id)
    assert "workload_id" in raised.value.fields
    assert not Agent.objects.exists()
    assert since() == []


@pytest.mark.parametrize("slug", ['bot"; filename=x', "../bot", "Refund_Bot", "b" * 64])
def test_a_slug_is_checked_by_the_service_whoever_calls(owner, slug, audit_since):
    """A slug is what the agent's manifest names, and URLs and file names carry as it is,
    so the service refuses what the forms and the API refuse, for callers that pass neither."""
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        create(Actor.for_user(owner), slug=slug)
    assert raised.value.fields["slug"] == [AGENT_SLUG_MESSAGE]
    assert not Agent.objects.exists()
    assert since() == []


def test_workload_identity_is_unique_among_active_agents(owner):
    create(Actor.for_user(owner))
    with pytest.raises(InvalidInput) as raised:
        create(Actor.for_user(owner), slug="refund-bot-2")
    assert raised.value.fields["workload_id"] == ["Another active agent already has this identity."]


def test_duplicate_slug_is_refused(owner):
    create(Actor.for_user(owner))
    with pytest.raises(InvalidInput) as raised:
        create(
            Actor.for_user(owner),
            workload_id="spiffe://prod.example.com/ns/pay/sa/other",
        )
    assert "slug" in raised.value.fields


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"slug": "refund-bot-2"}, "workload_id"),
        ({"workload_id": "spiffe://prod.example.com/ns/pay/sa/other"}, "slug"),
    ],
)
def test_two_registrations_at_once_name_the_field_that_clashed(second, field):
    """Both pass the checks before either commits; the constraint refuses the second, and the
    refusal names the field whose constraint it broke."""
    system = Actor.system("tests")
    with chain_held() as chain:
        errors = queued(
            chain, lambda: create(system, team=None), lambda: create(system, team=None, **second)
        )
    assert [(type(e), list(e.fields)) for e in errors] == [(AlreadyExists, [field])], errors
    assert Agent.objects.count() == 1


def test_owner_updates_description_and_owners(owner, other_owner, audit_since):
    agent = create(Actor.for_user(owner))
    since = audit_since()
    agent_update(
        actor=Actor.for_user(owner),
        agent=agent,
        description="Issues refunds",
        owners=[owner, other_owner],
    )
    (event,) = since()
    assert event.action == "agent.updated"
    assert event.after == {"description": "Issues refunds", "owners": ["other-owner", "owner"]}
    assert event.before["owners"] == ["owner"]


def test_identity_changes_only_through_a_package(owner):
    agent = create(Actor.for_user(owner))
    with pytest.raises(InvalidInput) as raised:
        agent_update(
            actor=Actor.for_user(owner),
            agent=agent,
            workload_id="spiffe://prod.example.com/ns/pay/sa/x",
        )
    assert "workload_id" in raised.value.fields


def test_non_owner_cannot_update(owner, other_owner, audit_since):
    agent = create(Actor.for_user(owner))
    since = audit_since()
    with pytest.raises(NotPermitted):
        agent_update(actor=Actor.for_user(other_owner), agent=agent, name="Mine now")
    assert since() == []
    agent.refresh_from_db()
    assert agent.name == "Refund bot"


def test_a_deactivated_owner_cannot_update(owner, audit_since):
    agent = create(Actor.for_user(owner))
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    since = audit_since()
    with pytest.raises(NotPermitted):
        agent_update(actor=Actor.for_user(owner), agent=agent, name="Still mine")
    assert since() == []
    agent.refresh_from_db()
    assert agent.name == "Refund bot"


def test_visible_to_scopes_owners_to_their_teams(owner, other_owner, reviewers):
    mine = create(Actor.for_user(owner))
    theirs = create(
        Actor.for_user(other_owner),
        slug="hr-bot",
        team=TeamFactory(slug="people", members=[other_owner]),
        workload_id="spiffe://prod.example.com/ns/hr/sa/hr-bot",
    )
    assert list(Agent.objects.visible_to(owner)) == [mine]
    assert list(Agent.objects.visible_to(other_owner)) == [theirs]
    assert set(Agent.objects.visible_to(reviewers["iam"][0])) == {mine, theirs}


@pytest.mark.parametrize("group", ["iam", "compliance-officer", None])
def test_only_product_owners_and_staff_register_agents(group, audit_since):
    from tests.factories import UserFactory

    user = UserFactory(username="someone", groups=[group] if group else [])
    since = audit_since()
    with pytest.raises(NotPermitted) as raised:
        create(Actor.for_user(user))
    assert raised.value.code == "not_product_owner"
    assert not Agent.objects.exists()
    assert since() == []
