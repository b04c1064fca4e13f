"""An Idempotency-Key left claimed by a killed request is free again after a bound.

The key is claimed before the view runs and its answer kept after; when the
process dies in between (gunicorn's worker timeout raises SystemExit in the
request, an OOM kill, a deploy), the claim keeps no answer. Past
IDEMPOTENCY_ABANDONED_SECONDS a retry runs again, and the service's own refusal
answers a change that was already made.
"""

import json
import runpy
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from api.models import IdempotencyRecord
from api.services import (
    IdempotencyInProgress,
    idempotency_claim,
    idempotency_release,
    idempotency_store,
)
from tests.api.conftest import error_of
from tokens.models import Scope

ROOT = Path(__file__).resolve().parents[2]


def _abandoned_after() -> timedelta:
    return timedelta(seconds=django_settings.COUNTERSIGN["IDEMPOTENCY_ABANDONED_SECONDS"])


def test_the_bound_is_well_past_gunicorns_worker_timeout():
    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert _abandoned_after() >= timedelta(seconds=5 * gunicorn["timeout"])


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_killed_request_is_answered_by_the_service(
    workflow, agent, api, reviewers, monkeypatch
):
    workflow.approve(agent)
    oncall = api(reviewers["security"][0], Scope.REVIEWS_WRITE)
    url = f"/api/v1/agents/{agent.slug}/suspend"
    body = {"reason": "Incident 42."}

    def killed(*args):
        raise SystemExit(1)  # what gunicorn raises in a worker past its timeout

    # The process dies after the change committed, while it queues the notification.
    monkeypatch.setattr("outbox.services.job_send", killed)
    with pytest.raises(SystemExit):
        oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-42")
    monkeypatch.undo()
    agent.refresh_from_db()
    assert agent.suspended_at is not None
    record = IdempotencyRecord.objects.get(key="suspend-42")
    assert record.status_code is None

    soon = oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-42")
    assert soon.status_code == 409 and error_of(soon)["code"] == "idempotency_in_progress"

    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - _abandoned_after() - timedelta(seconds=1)
    )
    retry = oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-42")
    assert retry.status_code == 409 and error_of(retry)["code"] == "already_suspended"
    replay = oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-42")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == retry.json()
    assert IdempotencyRecord.objects.get(pk=record.pk).status_code == 409


@pytest.mark.django_db(transaction=True)
def test_of_two_retries_of_an_abandoned_claim_only_one_runs(owner):
    principal, key, fingerprint = f"user:{owner.pk}", "k", "f" * 64
    abandoned = IdempotencyRecord.objects.create(
        user=owner, principal=principal, key=key, request_hash=fingerprint
    )
    IdempotencyRecord.objects.filter(pk=abandoned.pk).update(
        created_at=timezone.now() - _abandoned_after() - timedelta(seconds=1)
    )

    def claim():
        return idempotency_claim(user=owner, principal=principal, key=key, request_hash=fingerprint)

    # The second retry has read the abandoned claim and is about to take it over when the
    # first one takes it over.
    read, first_done = threading.Event(), threading.Event()
    outcome: dict = {}

    def pause_before_taking_over(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "api_idempotencyrecord" in sql and not read.is_set():
            read.set()
            first_done.wait(10)
        return execute(sql, params, many, context)

    def second():
        try:
            with connection.execute_wrapper(pause_before_taking_over):
                outcome["second"] = claim()
        except IdempotencyInProgress as refusal:
            outcome["second"] = refusal
        finally:
            connection.close()

    thread = threading.Thread(target=second)
    thread.start()
    assert read.wait(10)
    record, replay = claim()
    first_done.set()
    thread.join(10)
    assert record.pk == abandoned.pk and not replay
    assert isinstance(outcome["second"], IdempotencyInProgress), "both retries ran"


@pytest.mark.django_db(transaction=True)
def test_a_request_outlived_by_its_retry_leaves_the_retrys_answer(
    workflow, agent, api, reviewers, settings
):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "IDEMPOTENCY_ABANDONED_SECONDS": 0}
    workflow.approve(agent)
    oncall = api(reviewers["security"][0], Scope.REVIEWS_WRITE)
    url = f"/api/v1/agents/{agent.slug}/suspend"
    body = {"reason": "Incident 43."}

    # The first request has made its change and is about to keep its answer when its
    # claim, older than the bound, is taken over by a retry that runs to the end.
    storing, go_on = threading.Event(), threading.Event()
    first: dict = {}

    def pause_before_keeping_the_answer(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "api_idempotencyrecord" in sql and not storing.is_set():
            storing.set()
            go_on.wait(10)
        return execute(sql, params, many, context)

    def slow():
        try:
            with connection.execute_wrapper(pause_before_keeping_the_answer):
                first["response"] = oncall.post(
                    url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-43"
                )
        finally:
            storing.set()
            connection.close()

    thread = threading.Thread(target=slow)
    thread.start()
    assert storing.wait(10)
    retry = oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-43")
    assert retry.status_code == 409 and error_of(retry)["code"] == "already_suspended"
    go_on.set()
    thread.join(10)
    assert not thread.is_alive()

    # The first request's own client has its answer; the key keeps the retry's.
    assert first["response"].status_code == 200
    replay = oncall.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="suspend-43")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == retry.json()
    assert IdempotencyRecord.objects.get(key="suspend-43").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_a_request_outlived_by_its_retry_releases_only_its_own_claim(owner, settings):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "IDEMPOTENCY_ABANDONED_SECONDS": 0}
    principal, key, fingerprint = f"user:{owner.pk}", "k", "f" * 64

    def claim():
        return idempotency_claim(user=owner, principal=principal, key=key, request_hash=fingerprint)

    first, _ = claim()
    retry, replay = claim()
    assert retry.pk == first.pk and not replay and retry.created_at > first.created_at

    # The first request fails on the server while the retry still runs.
    idempotency_release(record=first)
    held = IdempotencyRecord.objects.get(pk=retry.pk)
    assert held.status_code is None and held.created_at == retry.created_at
    idempotency_store(record=first, status_code=500, body=None)
    assert IdempotencyRecord.objects.get(pk=retry.pk).status_code is None

    idempotency_store(record=retry, status_code=201, body={"version": 2})
    record, replay = claim()
    assert (
        replay and record.status_code == 201 and json.loads(record.response_body) == {"version": 2}
    )
