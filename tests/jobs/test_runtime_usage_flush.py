"""Runtime usage: counted in Redis per decision, flushed into observations on a real worker.

The flush counts every decision exactly once across crashes at any point of a
run (runtime/usage.py states the bound); a denied use becomes a drift finding
in the same job run.
"""

import time

import pytest
from django.db import transaction

from agents.models import Observation, UsageDay
from agents.observations import observations_record
from approvals.findings import finding_acknowledge
from approvals.models import DriftFinding
from audit.actors import Actor
from audit.models import AuditEvent
from runtime import tasks
from runtime.models import UsageFlush
from runtime.usage import (
    ALLOWED,
    BOUND,
    CLAIM_DENIED,
    DENIED,
    FLUSHING,
    PREFIX,
    SEP,
    USAGE_TTL,
    _claim,
    _flush_one,
    usage_client,
    usage_count,
    usage_flush,
)
from tests.concurrency import chain_held, queued
from tests.factories import AgentFactory, DriftFindingFactory
from tests.jobs.conftest import wait_for
from tests.runtime.conftest import ask
from tokens.models import Scope

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("tests")
FLUSH = "runtime.tasks.runtime_usage_flush"


@pytest.fixture(autouse=True)
def empty_usage():
    def empty():
        for key in usage_client().scan_iter(match="usage*"):
            usage_client().delete(key)

    empty()
    yield
    empty()


def close_minutes():
    """Move every counted minute one hour back, as if the minutes had passed."""
    client = usage_client()
    for key in list(client.scan_iter(match=f"{PREFIX}*")):
        minute = int(key.decode()[len(PREFIX) :])
        client.rename(key, f"{PREFIX}{minute - 60}")


def uses(agent):
    return {
        (o.kind, o.identifier, o.access): o.count
        for o in Observation.objects.filter(agent=agent, source="authzen")
    }


def days(agent):
    """Return the agent's usage days as {(kind, identifier, access): (uses, denies, decisions)}."""
    return {
        (d.kind, d.identifier, d.access): (d.uses, d.denies, d.decisions)
        for d in UsageDay.objects.filter(agent=agent)
    }


def test_decisions_become_observations_and_denies_findings(
    workflow, agent, api, staff, celery_worker
):
    workflow.approve(agent)
    runtime = api(staff, Scope.DECISIONS_EVALUATE, agents=[agent])
    for _ in range(3):
        assert ask(runtime, agent.slug, "read", "tool", "kb-search").json()["decision"] is True
    for _ in range(2):
        assert ask(runtime, agent.slug, "execute", "tool", "shell").json()["decision"] is False
    ask(runtime, agent.slug, "read", "model", "kb-search")  # not a use an observation can hold
    assert not Observation.objects.exists()  # the hot path wrote nothing
    client = usage_client()
    # A hash per minute counted in: asks that straddle a minute's end fill two.
    keys = list(client.scan_iter(match=f"{PREFIX}*"))
    assert keys and all(0 < client.ttl(key) <= USAGE_TTL for key in keys)
    close_minutes()

    worker = celery_worker(SUSPEND_ON_CRITICAL_DRIFT="0")
    tasks.runtime_usage_flush.delay()
    wait_for(lambda: worker.finished(FLUSH) == 1, message="the flush")
    assert uses(agent) == {("tool", "kb-search", "read"): 3, ("tool", "shell", "execute"): 2}
    # The days keep the denies apart: allowed evaluations are uses, every one a decision.
    flushed_days = {
        ("tool", "kb-search", "read"): (3, 0, 3),
        ("tool", "shell", "execute"): (0, 2, 2),
    }
    assert days(agent) == flushed_days
    finding = DriftFinding.objects.get(agent=agent)
    assert (finding.kind, finding.identifier, finding.access) == ("tool", "shell", "execute")
    assert finding.reason == "unapproved_tool" and finding.count == 2
    recorded = AuditEvent.objects.filter(action="observations.recorded")
    assert list(recorded.values_list("actor_label", flat=True)) == [
        "celery:runtime_usage_flush"
    ] * len(keys)
    assert UsageFlush.objects.count() == len(keys)
    assert sum(UsageFlush.objects.values_list("evaluations", flat=True)) == 5
    assert not list(client.scan_iter(match="usage*"))

    # Run again, twice at once: nothing is counted twice.
    tasks.runtime_usage_flush.delay()
    tasks.runtime_usage_flush.delay()
    wait_for(lambda: worker.finished(FLUSH) == 3, message="the repeated flushes")
    assert uses(agent) == {("tool", "kb-search", "read"): 3, ("tool", "shell", "execute"): 2}
    assert days(agent) == flushed_days
    assert DriftFinding.objects.filter(agent=agent).count() == 1


class Crash(Exception):
    pass


def runtime_of(agent) -> str:
    """Return the asker of a token bound to the agent whose user owns it (its runtime)."""
    return f"{BOUND}{agent.owners.get().pk}"


def counted(agent, n, access="read", now=None):
    usage_count(
        [(agent.slug, "tool", "kb-search", access, ALLOWED, runtime_of(agent))] * n, now=now
    )


def test_a_crash_before_the_commit_loses_nothing(workflow, agent):
    workflow.approve(agent)
    counted(agent, 4, now=time.time() - 120)
    _claim(usage_client(), time.time())
    (name,) = (k.decode() for k in usage_client().scan_iter(match=f"{FLUSHING}*"))
    with pytest.raises(Crash), transaction.atomic():
        _flush_one(SYSTEM, name, usage_client().hgetall(name))
        raise Crash  # the worker dies before its transaction commits
    assert not Observation.objects.exists() and not UsageFlush.objects.exists()
    assert not UsageDay.objects.exists()
    assert usage_flush(actor=SYSTEM)["evaluations"] == 4
    assert uses(agent) == {("tool", "kb-search", "read"): 4}
    assert days(agent) == {("tool", "kb-search", "read"): (4, 0, 4)}


def test_a_crash_after_the_commit_counts_nothing_twice(workflow, agent):
    workflow.approve(agent)
    counted(agent, 3, now=time.time() - 120)
    _claim(usage_client(), time.time())
    (name,) = (k.decode() for k in usage_client().scan_iter(match=f"{FLUSHING}*"))
    _flush_one(SYSTEM, name, usage_client().hgetall(name))  # committed; the delete never ran
    assert usage_flush(actor=SYSTEM)["evaluations"] == 0
    assert uses(agent) == {("tool", "kb-search", "read"): 3}
    assert days(agent) == {("tool", "kb-search", "read"): (3, 0, 3)}
    assert not list(usage_client().scan_iter(match="usage*"))


def test_two_runs_at_once_count_each_use_once_and_both_finish(workflow, agent):
    """The second run read the hash before the first deleted it: it finds the first's
    flush record once that commits, and leaves the hash to it."""
    workflow.approve(agent)
    counted(agent, 5, now=time.time() - 120)
    runs = []

    def run():
        runs.append(usage_flush(actor=SYSTEM))

    with chain_held() as held:  # the first run waits to audit its observations
        errors = queued(held, run, run)
    assert not errors, errors
    assert sorted(done["evaluations"] for done in runs) == [0, 5]
    assert uses(agent) == {("tool", "kb-search", "read"): 5}
    assert days(agent) == {("tool", "kb-search", "read"): (5, 0, 5)}
    assert UsageFlush.objects.count() == 1
    assert not list(usage_client().scan_iter(match="usage*"))


def test_a_claim_deny_flushed_while_a_reviewer_acknowledges_its_finding(workflow, agent):
    """The flush locks the agent's row before it writes (and audits) anything, as the
    reviewer's service does: the reviewer waits for the flush instead of holding the
    finding the flush adds to while waiting for the audit chain the flush holds."""
    package = workflow.approve(agent)
    finding = DriftFindingFactory(
        agent=agent,
        package=package,
        identifier="kb-search",
        access="read",
        reason="claim_exceeded",
        severity="high",
    )
    usage_count(
        [(agent.slug, "tool", "kb-search", "read", CLAIM_DENIED, runtime_of(agent))] * 2,
        now=time.time() - 120,
    )
    reviewer = Actor.for_user(workflow.reviewers["security"][0])
    with chain_held() as held:
        errors = queued(
            held,
            lambda: usage_flush(actor=SYSTEM),
            lambda: finding_acknowledge(actor=reviewer, finding=finding),
        )
    assert not errors, errors
    finding.refresh_from_db()
    assert (finding.status, finding.count) == ("acknowledged", 3)


def test_a_flush_of_two_agents_and_a_report_of_the_second_at_once(workflow, owner):
    """An observation report locks its agent's row before its uses' rows, as the flush
    does: the report waits for the flush instead of holding the second agent's rows the
    flush adds to while waiting for the audit chain the flush holds from the first's event."""
    first = AgentFactory(slug="a-first", owners=[owner])
    second = AgentFactory(slug="b-second", owners=[owner])
    for agent in (first, second):
        workflow.approve(agent)
        counted(agent, 2, now=time.time() - 120)
    reported = [{"kind": "tool", "identifier": "kb-search", "access": "read", "count": 5}]
    with chain_held() as held:  # the flush waits to audit the first agent's observations
        errors = queued(
            held,
            lambda: usage_flush(actor=SYSTEM),
            lambda: observations_record(actor=Actor.for_user(owner), agent=second, items=reported),
        )
    assert not errors, errors
    assert uses(first) == {("tool", "kb-search", "read"): 2}
    assert Observation.objects.get(agent=second).count == 7


def test_the_open_minute_waits_and_a_late_count_is_not_lost(workflow, agent):
    workflow.approve(agent)
    now = time.time()
    counted(agent, 2, now=now)  # this minute: not flushed yet
    counted(agent, 1, now=now - 120)
    assert usage_flush(actor=SYSTEM, now=now)["evaluations"] == 1
    counted(agent, 5, now=now - 120)  # a slow request counted into the flushed minute
    assert usage_flush(actor=SYSTEM, now=now + 60)["evaluations"] == 7
    assert uses(agent) == {("tool", "kb-search", "read"): 8}


def test_uses_no_observation_can_hold_are_not_counted(workflow, agent):
    usage_count(
        [
            (agent.slug, "model", "x", "read", ALLOWED, runtime_of(agent)),
            (agent.slug, "tool", "x", "delete", ALLOWED, runtime_of(agent)),
            (agent.slug, "tool", "bad\x1bid", "read", DENIED, runtime_of(agent)),
            (None, "tool", "x", "read", DENIED, runtime_of(agent)),
        ]
    )
    assert not list(usage_client().scan_iter(match="usage*"))


def test_a_field_of_another_shape_is_left_out_and_the_rest_flushed(workflow, agent, caplog):
    workflow.approve(agent)
    counted(agent, 2, now=time.time() - 120)
    (key,) = usage_client().scan_iter(match=f"{PREFIX}*")
    # A field without its asker, as counted before askers were: which asker it was is unknown.
    usage_client().hset(key, SEP.join((agent.slug, "tool", "read", ALLOWED, "kb-search")), 5)
    assert usage_flush(actor=SYSTEM)["evaluations"] == 2
    assert uses(agent) == {("tool", "kb-search", "read"): 2}
    assert "field of another shape left out" in caplog.text
    assert not list(usage_client().scan_iter(match="usage*"))
