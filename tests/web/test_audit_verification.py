"""Verifying the chain from the audit page: a run, walked by a job in steps, its progress kept."""

import pytest
from django.urls import reverse

from audit import verify
from audit.actors import Actor
from audit.models import AuditEvent, VerificationRun, VerificationState
from audit.verification import verification_request, verification_run
from audit.verify import DELETED, EDITED, audit_verify, audit_verify_in_steps
from tests.audit.test_verify_database import record, sql
from tests.concurrency import chain_held, queued

pytestmark = pytest.mark.django_db


def verdict(result):
    return (result.ok, result.broken_seq, result.reason, result.events, result.last_seq)


def walk(step):
    reports = []
    result = audit_verify_in_steps(on_progress=lambda d, t: reports.append((d, t)), step=step)
    return result, reports


def test_a_walk_in_steps_reports_progress_and_says_what_one_walk_says():
    record(23)
    result, reports = walk(step=10)
    assert reports == [(0, 23), (10, 23), (20, 23), (23, 23), (23, 23)]
    assert verdict(result) == verdict(audit_verify()) == (True, None, "", 23, 23)
    assert result.head_hash == AuditEvent.objects.get(seq=23).hash


@pytest.mark.parametrize("seq", [4, 10, 11, 23])
def test_an_edit_in_any_step_is_found_where_one_walk_finds_it(seq):
    record(23)
    sql("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE seq = %s", [seq])
    result, reports = walk(step=10)
    assert verdict(result) == verdict(audit_verify())
    assert (result.ok, result.broken_seq, result.reason) == (False, seq, EDITED)
    assert reports[-1] == (23, 23)


def test_a_deleted_event_beside_a_cut_is_named_by_one_walk():
    record(23)
    sql("DELETE FROM audit_auditevent WHERE seq = 10")
    result, _ = walk(step=10)
    assert verdict(result) == verdict(audit_verify())
    assert (result.broken_seq, result.reason) == (10, DELETED)


def test_a_request_records_a_run_and_its_event_and_queues_the_job_on_commit(
    reviewers, django_capture_on_commit_callbacks
):
    reader = reviewers["compliance"][0]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run, new = verification_request(actor=Actor.for_user(reader))
    assert new and run.state == VerificationState.QUEUED and len(callbacks) == 1
    event = AuditEvent.objects.get(action="audit.verification_requested")
    assert event.actor_label == reader.username and event.data == {"run": run.pk}
    again, new = verification_request(actor=Actor.for_user(reader))
    assert again == run and not new
    assert AuditEvent.objects.filter(action="audit.verification_requested").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_start_one_run(reviewers):
    """The second request waits for the first to commit its run, and is answered with it."""
    reader = Actor.for_user(reviewers["compliance"][0])
    answers = []

    def ask():
        answers.append(verification_request(actor=reader))

    with chain_held() as chain:
        errors = queued(chain, ask, ask)
    assert not errors, errors
    assert sorted(new for _, new in answers) == [False, True]
    assert answers[0][0] == answers[1][0] == VerificationRun.objects.get()


def test_the_job_walks_once_keeps_progress_and_records_the_result(reviewers, monkeypatch):
    record(12)
    run, _ = verification_request(actor=Actor.for_user(reviewers["compliance"][0]))
    seen = []
    real = verify._verify_range

    def spy(part, trusted):
        seen.append(VerificationRun.objects.get(pk=run.pk).events_done)
        return real(part, trusted)

    monkeypatch.setattr(verify, "_verify_range", spy)
    finished = verification_run(run_id=run.pk, step=5)
    assert seen == [0, 5, 10], "progress is stored before each step"
    assert finished.state == VerificationState.PASSED
    assert finished.events_done == finished.events_total == 13  # the request's own event too
    assert finished.result["ok"] and finished.result["events"] == 13
    assert verification_run(run_id=run.pk) is None, "a finished run is not walked again"
    done = AuditEvent.objects.get(action="audit.chain_verified")
    assert done.data["ok"] is True and done.data["events"] == 13
    assert done.actor_label == "celery:audit_verification"


def test_a_broken_chain_fails_the_run(reviewers):
    record(6)
    sql("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 3")
    run, _ = verification_request(actor=Actor.for_user(reviewers["compliance"][0]))
    finished = verification_run(run_id=run.pk)
    assert finished.state == VerificationState.FAILED
    assert (finished.result["broken_seq"], finished.result["reason"]) == (3, EDITED)


def test_the_pages_for_audit_readers_only(
    client, reviewers, owner, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    assert client.post(reverse("audit-verify")).status_code == 403
    assert "Verify the chain" not in client.get(reverse("audit-log")).content.decode()
    client.force_login(reviewers["compliance"][0])
    assert client.get(reverse("audit-verify")).status_code == 405
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("audit-verify"))
    run = VerificationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("audit-verification", args=[run.pk])
    page = client.get(response["Location"])
    assert page["Refresh"] == "2"
    assert "Waiting for a worker to start" in page.content.decode()
    verification_run(run_id=run.pk)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert not page.has_header("Refresh")
    assert "The chain is intact" in html and 'value="100"' not in html
    assert "The chain is intact" in client.get(reverse("audit-log")).content.decode()
    client.force_login(owner)
    assert client.get(response["Location"]).status_code == 403
