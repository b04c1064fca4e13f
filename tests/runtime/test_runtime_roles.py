"""Who may ask and read, by role, each with a token of the decision scope.

Every role may ask decisions, as every role may ask the release gate; the policy
bundle is read like the agent itself: an agent the user may not see is a 404.
"""

import pytest

from tests.runtime.conftest import ask
from tokens.models import Scope

pytestmark = pytest.mark.django_db

POLICY_STATUS = {"owner": 200, "other_owner": 404, "iam": 200, "security": 200, "staff": 200}


@pytest.mark.parametrize("role", list(POLICY_STATUS))
def test_each_role(approved, agent, api, owner, other_owner, reviewers, staff, role):
    user = {
        "owner": owner,
        "other_owner": other_owner,
        "iam": reviewers["iam"][0],
        "security": reviewers["security"][0],
        "staff": staff,
    }[role]
    client = api(user, Scope.DECISIONS_EVALUATE)
    assert ask(client, agent.slug, "read", "tool", "kb-search").json() == {"decision": True}
    assert client.get(f"/api/v1/agents/{agent.slug}/policy").status_code == POLICY_STATUS[role]
