"""An agent's kill-switch grant through the API: a token suspends only with `reviews:write`,
which reviewers and staff hold and product owners never do (config.roles.SCOPE_GROUPS); a
product owner granted the kill switch pulls it signed in, as in the browser."""

import pytest
from django.urls import reverse

from agents.membership import Source, reviewer_assign
from agents.models import Agent
from agents.permissions import SUSPEND_PERMISSION
from audit.actors import Actor
from config.errors import InvalidInput
from config.roles import Scope, scopes_granted

pytestmark = pytest.mark.django_db

URL = "/api/v1/agents/support-assistant/suspend"
BODY = {"reason": "Incident 42."}


def grant(agent, user) -> None:
    reviewer_assign(
        actor=Actor.system("tests"),
        agent=agent,
        user=user,
        permission=SUSPEND_PERMISSION,
        source=Source.COMMAND,
    )


def suspended(agent) -> bool:
    return Agent.objects.get(pk=agent.pk).suspended_at is not None


def test_an_owner_granted_the_kill_switch_pulls_it_signed_in_never_with_a_token(
    client, api, make_token, agent, owner, audit_since
):
    grant(agent, owner)
    assert Scope.REVIEWS_WRITE not in scopes_granted(owner)
    with pytest.raises(InvalidInput):
        make_token(owner, Scope.REVIEWS_WRITE)
    token = api(owner)  # every scope their role grants
    since = audit_since()
    refused = token.post(URL, BODY, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert since() == [] and not suspended(agent)

    client.force_login(owner)
    assert client.get(reverse("agent-suspend", args=[agent.slug])).status_code == 200
    answer = client.post(URL, BODY, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["suspended"] is True
    assert [(e.action, e.actor_label) for e in since()][:1] == [("agent.suspended", "owner")]


def test_a_reviewer_granted_the_kill_switch_pulls_it_with_a_token(api, agent, reviewers):
    iam = reviewers["iam"][0]
    assert api(iam, Scope.REVIEWS_WRITE).post(URL, BODY, format="json").status_code == 403
    grant(agent, iam)
    answer = api(iam, Scope.REVIEWS_WRITE).post(URL, BODY, format="json")
    assert answer.status_code == 200 and suspended(agent)


def test_the_grant_form_says_where_the_kill_switch_works(client, staff, agent):
    client.force_login(staff)
    page = client.get(reverse("agent-reviewers", args=[agent.slug])).content.decode()
    assert "a product owner pulls it in the browser, not with an API token" in page
