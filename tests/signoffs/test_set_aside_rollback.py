"""Taking the set-aside migration back is refused once a suspension set a decision aside:
the previous version would count it again, and lift a suspension on decisions made before."""

import pytest
from django.db import connection
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor

from approvals.services import agent_suspend
from audit.actors import Actor
from signoffs.models import Decision
from tests.factories import manifest_for

BEFORE = [("signoffs", "0005_checklist_coverage_and_review_depth")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def applied() -> bool:
    return ("signoffs", "0006_decision_set_aside") in MigrationExecutor(
        connection
    ).loader.applied_migrations


def test_unapplying_is_refused_once_a_decision_is_set_aside(workflow, agent, staff):
    try:
        migrate(BEFORE)  # nothing set aside yet: it goes back
        assert not applied()
    finally:
        migrate()
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    full = workflow.submit(agent, wider)
    decision = workflow.decide(full, "iam")
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 51.")
    try:
        with pytest.raises(IrreversibleError, match=f"ids {decision.pk}"):
            migrate(BEFORE)
        assert applied()
        assert Decision.objects.get(pk=decision.pk).set_aside_at is not None
    finally:
        migrate()
