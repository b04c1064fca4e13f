"""The decision point and the policy export refuse a token as the rest of the API does.

The AuthZEN endpoints answer with their own error shape (a message string), but the
token is read by the same authentication: a revoked or expired token, one whose user
is deactivated, one used from a network it is not allowed, and one without the
`decisions:evaluate` scope are refused before anything is decided, so no use is
counted toward the agent's observations (docs/api.md, "Authentication and scopes" and
"Runtime decisions").
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from runtime.usage import PREFIX, usage_client
from tests.runtime.conftest import EVALUATIONS, ask
from tokens.models import ApiToken, Scope
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db

STAFF = Actor.system("staff")
# Each way a token stops being usable, and what the API answers a use of it.
REFUSED = {
    "revoked": (401, "token_revoked", "The token was revoked."),
    "expired": (401, "token_expired", "The token has expired."),
    "user_inactive": (401, "user_inactive", "The token's user is inactive."),
    "network": (403, "network_not_allowed", "This token may not be used from this network."),
    "no_scope": (403, "insufficient_scope", "This token lacks the decisions:evaluate scope."),
}


def refused_client(api, owner, agent, how: str):
    """Return a client with the owner's runtime token, bound to the agent, made unusable `how`."""
    scopes = (Scope.GATE_CHECK,) if how == "no_scope" else (Scope.DECISIONS_EVALUATE,)
    networks = ["192.0.2.0/24"] if how == "network" else ()
    client = api(owner, *scopes, agents=[agent], allowed_networks=networks)
    if how == "revoked":
        token_revoke(actor=STAFF, token=client.token)
    elif how == "expired":
        ApiToken.objects.filter(pk=client.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif how == "user_inactive":
        user_flags_set(owner, actor=STAFF, source=Source.COMMAND, is_active=False)
    return client


def usage_keys() -> list:
    return list(usage_client().scan_iter(match=f"{PREFIX}*"))


def test_an_owners_runtime_token_counts_its_uses(approved, agent, api, owner):
    """The counterpart of the refusals below: the same token, usable, is counted."""
    client = api(owner, Scope.DECISIONS_EVALUATE, agents=[agent])

    assert ask(client, agent.slug, "read", "tool", "kb-search").json() == {"decision": True}
    assert usage_keys()


@pytest.mark.parametrize("how", list(REFUSED))
def test_a_refused_token_is_answered_in_the_authzen_shape_and_counts_nothing(
    approved, agent, api, owner, how
):
    status, _, message = REFUSED[how]
    client = refused_client(api, owner, agent, how)

    single = ask(client, agent.slug, "read", "tool", "kb-search")
    batch = client.post(
        EVALUATIONS,
        {
            "subject": {"type": "agent", "id": agent.slug},
            "action": {"name": "read"},
            "evaluations": [{"resource": {"type": "tool", "id": "kb-search"}}],
        },
        format="json",
    )

    for answer in (single, batch):
        assert answer.status_code == status
        assert answer.json() == message
    assert usage_keys() == []


@pytest.mark.parametrize("how", list(REFUSED))
def test_a_refused_token_gets_no_policy_bundle(approved, agent, api, owner, how):
    status, code, _ = REFUSED[how]
    client = refused_client(api, owner, agent, how)

    answer = client.get(f"/api/v1/agents/{agent.slug}/policy")

    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert "X-Countersign-Signature" not in answer
    assert agent.workload_id not in answer.content.decode()
