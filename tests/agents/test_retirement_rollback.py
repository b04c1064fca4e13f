"""Taking the retirement migration back keeps every retired agent out of service.

The schema before `agents 0005` has no retirement: unapplying it suspends each retired
agent (the gate of that version denies a suspended agent, and only a new version
approved by every dimension lifts a suspension), and applying it again retires again
each agent nobody brought back meanwhile, as it was retired.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agents.models import Agent, AgentStatus
from approvals.gate import DENY, gate_check
from approvals.retirement import agent_retire
from approvals.services import agent_suspend
from audit.actors import Actor
from tests.factories import AgentFactory

BEFORE_RETIREMENT = [("agents", "0004_agent_team_is_a_team")]
CI = Actor.system("ci")

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def in_older_schema(slug: str) -> tuple:
    """Return the agent's status and suspension as the schema before retirement holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, suspended_at, suspended_reason FROM agents_agent WHERE slug = %s",
            [slug],
        )
        return cursor.fetchone()


def retirement(agent: Agent) -> tuple:
    agent = Agent.objects.get(pk=agent.pk)
    return agent.status, agent.retired_at, agent.retired_reason, agent.suspended_at


def test_unapplying_suspends_the_retired_agents_and_applying_again_retires_them(
    workflow, agent, owner
):
    approved = workflow.approve(agent)
    agent = agent_retire(actor=CI, agent=agent, reason="Replaced by a new assistant.")
    # Retirement frees the workload identity for the agent replacing it.
    successor = AgentFactory(slug="support-two", owners=[owner], workload_id=agent.workload_id)
    suspended_first = AgentFactory(slug="suspended-first", owners=[owner])
    agent_suspend(actor=CI, agent=suspended_first, reason="Leaked a key.")
    suspended_first = agent_retire(actor=CI, agent=suspended_first, reason="Not worth fixing.")
    brought_back = agent_retire(
        actor=CI, agent=AgentFactory(slug="brought-back", owners=[owner]), reason="Unused."
    )
    try:
        migrate(BEFORE_RETIREMENT)
        assert in_older_schema(agent.slug) == (
            AgentStatus.RETIRED,
            agent.retired_at,
            "Retired: Replaced by a new assistant.",
        )
        assert in_older_schema(suspended_first.slug) == (
            AgentStatus.RETIRED,
            suspended_first.retired_at,
            "Retired: Not worth fixing.",
        )
        assert in_older_schema(successor.slug) == (AgentStatus.NEW, None, "")
        # What an approval of a new version does in that version: the suspension is lifted.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE agents_agent SET status = 'approved', suspended_at = NULL, "
                "suspended_reason = '' WHERE slug = %s",
                [brought_back.slug],
            )
    finally:
        migrate()
    assert retirement(agent) == (
        AgentStatus.RETIRED,
        agent.retired_at,
        "Replaced by a new assistant.",
        None,
    )
    assert retirement(suspended_first) == (
        AgentStatus.RETIRED,
        suspended_first.retired_at,
        "Not worth fixing.",
        None,
    )
    result = gate_check(actor=CI, agent_slug=agent.slug, digest=approved.digest)
    assert result.decision == DENY and "agent_retired" in [r["code"] for r in result.reasons]
    assert retirement(brought_back)[1:] == (None, "", None)
    assert retirement(successor) == (AgentStatus.NEW, None, "", None)
