"""Real concurrent transactions on PostgreSQL: no lost decision, no forked chain."""

import copy
import threading

import pytest
from django.db import connection, transaction

from approvals.models import PackageState
from approvals.services import agent_suspend, package_create, package_submit
from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from signoffs.models import Decision, Dimension
from tests.factories import AgentFactory
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("tests")


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


def test_a_narrowing_submitted_during_a_suspension_waits_for_it(workflow, agent):
    """The submission reads the approval it would carry sign-offs from only once the
    suspension that revokes it has committed, so it does not lift the kill switch."""
    first = workflow.approve(agent)
    narrower = copy.deepcopy(first.manifest)
    narrower["scope"]["tools"] = narrower["scope"]["tools"][:1]
    draft = package_create(actor=SYSTEM, agent=agent, manifest=narrower)
    suspended, release = threading.Event(), threading.Event()

    def suspend():
        with transaction.atomic():
            agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 46.")
            suspended.set()
            release.wait(timeout=30)  # holds the agent's row until the submission waits

    def submit():
        suspended.wait(timeout=30)
        package_submit(actor=SYSTEM, package=draft)

    threads = [threading.Thread(target=closing(f)) for f in (suspend, submit)]
    for thread in threads:
        thread.start()
    wait_for(lambda: waiting_on_a_lock() == 1, message="the submission to wait for the agent")
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    draft.refresh_from_db()
    agent.refresh_from_db()
    assert agent.is_suspended
    assert draft.state == PackageState.IN_REVIEW and not draft.review_plan["carried_over"]


def closing(function):
    def run():
        try:
            function()
        finally:
            connection.close()

    return run


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
