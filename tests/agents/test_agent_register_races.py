"""Two agents of one slug or one workload identity registered at the same moment, over the
API and on the page: both pass the checks before either commits; the unique index refuses
the second, which gets the API's 409 or the form's error naming the field, not a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from tests.api.conftest import error_of
from tests.concurrency import queued_behind_the_chain
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)

AGENTS = "/api/v1/agents"
FIELDS = {
    "slug": "refund-bot",
    "name": "Refund bot",
    "workload_id": "spiffe://prod.example.com/ns/pay/sa/refund-bot",
    "log_principal": "agent:refund-bot",
    "deployment": "customer_facing",
}
# The second registration's differences: another slug, or another identity.
CLASHES = {
    "slug": {"workload_id": "spiffe://prod.example.com/ns/pay/sa/other"},
    "workload_id": {"slug": "other-bot"},
}


@pytest.mark.parametrize("field", list(CLASHES))
def test_over_the_api(api, owner, other_owner, field, audit_since):
    team = TeamFactory(slug="payments", members=[owner, other_owner])
    first, second = api(owner), api(other_owner)
    body = {**FIELDS, "team": team.slug}
    since = audit_since()

    created, refused = queued_behind_the_chain(
        lambda: first.post(AGENTS, body, format="json"),
        lambda: second.post(AGENTS, {**body, **CLASHES[field]}, format="json"),
    )

    assert (created.status_code, refused.status_code) == (201, 409)
    error = error_of(refused)
    assert (error["code"], list(error["fields"])) == ("already_exists", [field])
    assert Agent.objects.count() == 1
    assert [e.action for e in since()] == ["agent.created"]


@pytest.mark.parametrize("field", list(CLASHES))
def test_on_the_page(owner, other_owner, field, audit_since):
    team = TeamFactory(slug="payments", members=[owner, other_owner])
    clients = []
    for user in (owner, other_owner):
        clients.append(Client())
        clients[-1].force_login(user)
    url = reverse("agent-new")
    body = {**FIELDS, "team": team.slug}
    since = audit_since()

    created, refused = queued_behind_the_chain(
        lambda: clients[0].post(url, body),
        lambda: clients[1].post(url, {**body, **CLASHES[field]}),
    )

    assert (created.status_code, refused.status_code) == (302, 200)
    assert list(refused.context["form"].errors) == [field]
    assert Agent.objects.count() == 1
    assert [e.action for e in since()] == ["agent.created"]
