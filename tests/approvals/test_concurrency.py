"""Real concurrent transactions on PostgreSQL: no lost decision, no forked chain."""

import threading

import pytest
from django.db import connection, transaction

from approvals.models import PackageState
from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from signoffs.models import Decision, Dimension
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(functions):
    """Run the functions in threads released at the same moment; re-raise their errors."""
    barrier = threading.Barrier(len(functions))
    errors = []

    def target(function):
        try:
            barrier.wait()
            function()
        except Exception as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


@pytest.mark.parametrize("trial", range(5))
def test_two_reviewers_racing_on_the_last_two_dimensions(workflow, owner, trial):
    agent = AgentFactory(owners=[owner])
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM)
    needed = package.signoffs.get(dimension=Dimension.SECURITY).required_approvals
    for reviewer in workflow.reviewers["security"][:needed]:
        workflow.decide(package, Dimension.SECURITY, reviewer)
    run_together(
        [
            lambda: workflow.decide(package, Dimension.PAM),
            lambda: workflow.decide(package, Dimension.COMPLIANCE),
        ]
    )
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED
    assert Decision.objects.filter(signoff__package=package).count() == 3 + needed
    assert (
        AuditEvent.objects.filter(
            action="package.approved", package_version=1, agent_slug=agent.slug
        ).count()
        == 1
    )


def test_sixteen_concurrent_writers_leave_one_linear_chain(db):
    def writer(n):
        def write():
            for i in range(10):
                with transaction.atomic():
                    audit_record(actor=Actor.system(f"w{n}"), action="test.write", data={"i": i})

        return write

    run_together([writer(n) for n in range(16)])
    events = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert AuditEvent.objects.filter(action="test.write").count() == 160
    for (_, _, previous), (_, prev_hash, _) in zip(events, events[1:], strict=False):
        assert prev_hash == previous
