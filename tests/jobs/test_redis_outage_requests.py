"""While Redis is down or hangs, a request that commits a change answers within seconds.

Redis is the broker, the cache (throttles) and the usage counter. A change's
notifications are queued after it commits, so what is at stake is how long the
request holds its web worker: gunicorn kills a sync worker after its `timeout`
(gunicorn.conf.py), and the client then gets no answer for a change that was
made. What could not be queued is left in the database for the outbox sweep.

"Down" is a port nothing listens on (connection refused); "hung" is a local
socket that accepts and never answers. Both are set for this process only: the
shared Redis is never touched.
"""

import socket
import threading
import time

import pytest
from celery import Celery
from django.urls import reverse
from django.utils import timezone

from approvals.models import PackageState
from audit.models import AuditEvent, VerificationRun, VerificationState
from audit.verification import CHAIN_VERIFIED
from audit.verify import audit_verify
from config.celery import app as countersign_app
from outbox.models import Notification
from outbox.services import SWEEP_GRACE, notifications_sweep
from tokens.models import Scope
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db(transaction=True)

# What one request may spend on a Redis that refuses, all its notifications included, and
# on one that hangs (a throttle's cache call and one send time out): well inside gunicorn's
# 30 s worker timeout, with room for a loaded machine. Without the broker's timeouts the
# first takes about 19 s per notification and the second does not answer.
BUDGET_SECONDS = 10
HUNG_BUDGET_SECONDS = 15


class HungRedis:
    """A server on 127.0.0.1 that accepts connections and never answers: a Redis that hangs
    (a stopped process, a full disk on fsync, a proxy whose backend is gone)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self):
        self.server.close()
        for connection in self.connections:
            connection.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.fixture
def redis_at(settings, monkeypatch):
    """Return a function pointing everything this process reaches Redis through (the broker,
    a result backend if one is configured, the cache, the usage counter) at a URL, and
    returning the Celery app that uses it; call it once the test's setup is done. The
    current app is per thread: a thread sets it again."""

    def point(url: str) -> Celery:
        # Celery reads the broker from the environment before its settings.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        settings.CELERY_BROKER_URL = url
        if getattr(settings, "CELERY_RESULT_BACKEND", None):
            settings.CELERY_RESULT_BACKEND = url
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        settings.COUNTERSIGN = {**settings.COUNTERSIGN, "USAGE_REDIS_URL": url}
        app = Celery("countersign-redis-elsewhere", set_as_current=False)
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.set_current()
        assert app.conf.broker_url == url
        return app

    yield point
    countersign_app.set_current()


@pytest.fixture
def hung_redis():
    hung = HungRedis()
    yield hung
    hung.close()


def _final_approval_by_api(workflow, agent, api, reviewers):
    """Submit, make every approval but the last, and return a function making the last one."""
    package = workflow.submit(agent)
    for signoff in package.signoffs.all():
        people = reviewers[signoff.dimension][: signoff.required_approvals]
        if signoff.dimension == "compliance":
            *people, last = people
        for person in people:
            workflow.decide(package, signoff.dimension, person)
    reviewer = api(last, Scope.REVIEWS_WRITE)
    answers = workflow.answers(package, "compliance")

    def approve():
        return reviewer.post(
            f"/api/v1/agents/{agent.slug}/packages/{package.version}/signoffs/compliance/decisions",
            {"verdict": "approve", "comment": "Checked.", "answers": answers},
            format="json",
        )

    return package, approve


def _in_thread(app: Celery, call) -> dict:
    """Run the call in a thread on the app; return {"response", "elapsed"} once it answered,
    or {} when it had not after four times the budget."""
    answered: dict = {}

    def run():
        from django.db import connection

        app.set_current()
        try:
            answered["response"], answered["elapsed"] = _timed(call)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HUNG_BUDGET_SECONDS * 4)
    return answered


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_the_kill_switch_answers_at_once_while_redis_is_down_and_the_sweep_sends_later(
    workflow, agent, api, reviewers, redis_at
):
    workflow.approve(agent)
    oncall = api(reviewers["security"][0], Scope.REVIEWS_WRITE)
    redis_at(f"redis://127.0.0.1:{_closed_port()}/0")
    response, elapsed = _timed(
        lambda: oncall.post(
            f"/api/v1/agents/{agent.slug}/suspend", {"reason": "Incident 42."}, format="json"
        )
    )
    assert response.status_code == 200, response.content
    assert elapsed < BUDGET_SECONDS, f"the kill switch held its web worker {elapsed:.1f}s"
    agent.refresh_from_db()
    assert agent.suspended_at is not None
    left = Notification.objects.get(event="agent.suspended", agent_slug=agent.slug)
    assert left.dispatched_at is None
    Notification.objects.filter(pk=left.pk).update(created_at=timezone.now() - SWEEP_GRACE)
    notifications, _ = notifications_sweep()
    assert left.pk in notifications


def test_a_final_approval_answers_within_seconds_while_redis_is_down(
    workflow, agent, api, reviewers, redis_at
):
    package, approve = _final_approval_by_api(workflow, agent, api, reviewers)
    redis_at(f"redis://127.0.0.1:{_closed_port()}/0")
    response, elapsed = _timed(approve)
    assert response.status_code in (200, 201), response.content
    assert elapsed < BUDGET_SECONDS, f"the approval held its web worker {elapsed:.1f}s"
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED
    left = Notification.objects.filter(dispatched_at=None)
    assert {"decision.made", "package.approved"} <= set(left.values_list("event", flat=True))


def test_a_final_approval_answers_within_seconds_while_redis_hangs(
    workflow, agent, api, reviewers, redis_at, hung_redis
):
    """The throttle's count times out and lets the request through; of the two notifications
    to queue, the first send times out and the second is not tried (the broker failed
    moments ago)."""
    package, approve = _final_approval_by_api(workflow, agent, api, reviewers)
    answered = _in_thread(redis_at(hung_redis.url), approve)
    assert "elapsed" in answered, "the approval still waited on the hung broker"
    assert answered["response"].status_code in (200, 201), answered["response"].content
    assert answered["elapsed"] < HUNG_BUDGET_SECONDS, (
        f"the approval held its web worker {answered['elapsed']:.1f}s"
    )
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED


def test_a_verification_the_broker_cannot_take_ends_at_once_and_the_trail_says_so(
    client, reviewers, redis_at
):
    asker = reviewers["compliance"][0]
    client.force_login(asker)
    redis_at(f"redis://127.0.0.1:{_closed_port()}/0")
    response, elapsed = _timed(lambda: client.post(reverse("audit-verify")))
    assert response.status_code == 302
    assert elapsed < BUDGET_SECONDS, f"the request held its web worker {elapsed:.1f}s"
    run = VerificationRun.objects.get()
    assert run.state == VerificationState.ERROR and run.finished_at is not None
    event = AuditEvent.objects.get(action=CHAIN_VERIFIED)
    assert event.actor_label == asker.username  # no worker ever saw the run
    assert (event.data["run"], event.data["ok"]) == (run.pk, False)
    detail = "The job could not be queued: ask again later."
    assert event.data["reason"] == run.result["detail"] == detail
    assert event_sentence(event) == f"The audit chain was verified: not finished ({detail})"
    assert audit_verify().ok
    page = client.get(response["Location"])
    assert not page.has_header("Refresh")
    assert "The verification could not finish: The job could not be queued" in (
        page.content.decode()
    )
