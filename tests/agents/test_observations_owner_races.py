"""An owner taken off an agent while they report its observations: the report lands before the
removal, or not at all.

A change of owners holds the agent's row until it commits; a report asks whether its
reporter owns the agent (or holds a token bound to it) once it holds that row, so it reads
the owners as the last change left them.
"""

import pytest

from agents.models import Observation
from agents.observations import observations_record
from approvals.ownership import agent_update
from audit.actors import Actor
from config.errors import NotPermitted
from tests.concurrency import chain_held, queued

pytestmark = pytest.mark.django_db(transaction=True)

REPORTED, UPDATED = "observations.recorded", "agent.updated"
ITEMS = [{"kind": "tool", "identifier": "kb-search", "access": "read"}]


def _sides(agent, owner, other_owner):
    def report():
        observations_record(actor=Actor.for_user(owner), agent=agent, items=ITEMS)

    def removal():
        agent_update(actor=Actor.system("staff"), agent=agent, owners=[other_owner])

    return report, removal


def _trail(since) -> list[str]:
    return [event.action for event in since() if event.action in (REPORTED, UPDATED)]


def test_a_removal_first_refuses_the_report_that_waits_for_it(
    agent, owner, other_owner, audit_since
):
    report, removal = _sides(agent, owner, other_owner)
    since = audit_since()
    # The removal holds the agent's row and waits for the chain's lock; the report waits for
    # that row, and reads the owners the removal left.
    with chain_held() as held:
        errors = queued(held, removal, report)
    assert [(type(e), e.code) for e in errors] == [(NotPermitted, "not_owner")], errors
    assert not Observation.objects.filter(agent=agent).exists()
    assert _trail(since) == [UPDATED]


def test_a_report_first_precedes_the_removal(agent, owner, other_owner, audit_since):
    report, removal = _sides(agent, owner, other_owner)
    since = audit_since()
    with chain_held() as held:
        errors = queued(held, report, removal)
    assert not errors, errors
    assert Observation.objects.filter(agent=agent).count() == 1
    assert _trail(since) == [REPORTED, UPDATED]
