"""One drift run at a time, held by a lease row (approvals.leases), which a connection
pooler in transaction mode cannot break: each statement may reach another server
connection, so a session's advisory lock would be taken on one and released on another."""

from datetime import timedelta

import pytest

from approvals.drift import DRIFT_JOB, DRIFT_LEASE, drift_evaluate
from approvals.leases import lease_release, lease_renew, lease_take
from approvals.models import JobLease
from audit.actors import Actor

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def test_a_second_run_finds_the_lease_held_until_the_first_releases_it():
    first = lease_take("a-job", timedelta(minutes=5))
    assert first is not None
    assert lease_take("a-job", timedelta(minutes=5)) is None
    assert lease_take("another-job", timedelta(minutes=5)) is not None
    lease_release("a-job", first)
    second = lease_take("a-job", timedelta(minutes=5))
    assert second not in (None, first)
    assert JobLease.objects.get(job="a-job").holder == second


def test_a_lapsed_lease_passes_to_the_next_run_and_the_first_holder_no_longer_frees_it():
    first = lease_take("a-job", timedelta(0))
    second = lease_take("a-job", timedelta(minutes=5))
    assert second is not None
    assert lease_renew("a-job", first, timedelta(minutes=5)) is False
    lease_release("a-job", first)
    assert lease_take("a-job", timedelta(minutes=5)) is None
    assert lease_renew("a-job", second, timedelta(minutes=5)) is True


def test_a_drift_run_is_skipped_while_another_holds_the_lease_even_on_the_same_connection():
    # Through a pooler, two workers' statements may share one server connection: the
    # lease is not the connection's, so the second run still waits its turn.
    holder = lease_take(DRIFT_JOB, DRIFT_LEASE)
    assert drift_evaluate(actor=ACTOR).skipped is True
    lease_release(DRIFT_JOB, holder)
    run = drift_evaluate(actor=ACTOR)
    assert run.skipped is False
    lease = JobLease.objects.get(job=DRIFT_JOB)
    assert (lease.holder, lease.held_until) == ("", None)
