"""Absences through the API, and decisions through the API that record on whose behalf."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm

from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.absence import absence_set
from signoffs.models import Absence
from tests.approvals.delegation import away
from tests.concurrency import chain_held, queued
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/absences"
PACKAGE = "/api/v1/agents/support-assistant/packages/1"


def _ends(days=3):
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_a_reviewer_sets_lists_and_ends_an_absence(api, reviewers, audit_since):
    iam1, iam2 = reviewers["iam"]
    client = api(iam1)
    since = audit_since()
    response = client.post(
        BASE, {"dimension": "iam", "delegate": "iam2", "ends_at": _ends()}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reviewer"] == "iam1" and body["delegate"] == "iam2"
    assert body["dimension"] == "iam" and body["starts_at"] <= body["ends_at"]
    [event] = since()
    assert event.action == "absence.set" and event.token_label.startswith("token:")

    assert [a["id"] for a in client.get(BASE).json()["results"]] == [body["id"]]
    assert [a["id"] for a in api(iam2).get(BASE).json()["results"]] == [body["id"]]
    assert api(reviewers["security"][0]).get(BASE).json()["results"] == []

    assert api(reviewers["security"][0]).delete(f"{BASE}/{body['id']}").status_code == 404
    assert client.delete(f"{BASE}/{body['id']}").status_code == 204
    assert not Absence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_absence_sent_twice_at_once_is_set_once(api, reviewers):
    """A double submit: the second request waits for the first and replaces its absence."""
    clients = [api(reviewers["iam"][0]), api(reviewers["iam"][0])]
    body = {"dimension": "iam", "delegate": "iam2", "ends_at": _ends()}
    answers = []

    def post(client):
        client.raise_request_exception = False
        return lambda: answers.append(client.post(BASE, body, format="json"))

    with chain_held() as chain:
        errors = queued(chain, *map(post, clients))
    assert not errors, errors
    assert [answer.status_code for answer in answers] == [201, 201], answers[-1].content
    assert Absence.objects.count() == 1
    assert AuditEvent.objects.filter(action="absence.set").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dimension": "iam", "delegate": "nobody", "ends_at": "+3"}, "delegate"),
        ({"dimension": "iam", "delegate": "pam1", "ends_at": "+3"}, "delegate"),
        ({"dimension": "iam", "delegate": "iam1", "ends_at": "+3"}, "delegate"),
        ({"dimension": "pam", "delegate": "pam2", "ends_at": "+3"}, "dimension"),
        ({"dimension": "board", "delegate": "iam2", "ends_at": "+3"}, "dimension"),
        ({"dimension": "iam", "delegate": "iam2", "ends_at": "-1"}, "ends_at"),
        ({"dimension": "iam", "delegate": "iam2", "ends_at": "soon"}, "ends_at"),
        ({"dimension": "iam", "delegate": "iam2"}, "ends_at"),
        ({"dimension": "iam", "delegate": "iam2", "ends_at": "+3", "reviewer": "iam2"}, ""),
    ],
)
def test_a_bad_absence_names_its_field_and_changes_nothing(
    api, reviewers, audit_since, body, field
):
    if body.get("ends_at", "").startswith(("+", "-")):
        body = {**body, "ends_at": _ends(int(body["ends_at"]))}
    client = api(reviewers["iam"][0])
    since = audit_since()
    response = client.post(BASE, body, format="json")
    error = response.json()["error"]
    if field:
        assert response.status_code == 400 and field in error["fields"], error
    else:
        # Only staff set another reviewer's absence.
        assert response.status_code == 403 and error["code"] == "not_permitted"
    assert since() == [] and not Absence.objects.exists()


def test_staff_set_a_reviewers_absence(api, reviewers, staff):
    response = api(staff).post(
        BASE,
        {"dimension": "iam", "delegate": "iam2", "ends_at": _ends(), "reviewer": "iam1"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["reviewer"] == "iam1"


def test_the_list_runs_the_same_queries_for_any_number_of_absences(api, reviewers, staff):
    client = api(staff)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BASE).status_code == 200
        return len(captured)

    def away(n):
        reviewer = UserFactory(username=f"away{n}", groups=["iam"])
        now = timezone.now()
        absence_set(
            actor=Actor.for_user(staff),
            reviewer=reviewer,
            dimension="iam",
            delegate=reviewers["iam"][0],
            starts_at=now,
            ends_at=now + timedelta(days=2),
        )

    away(0)
    queries()  # the token's first use records last_used_at
    few = queries()
    for n in range(1, 15):
        away(n)
    assert queries() == few


def test_a_delegates_decision_through_the_api_records_on_whose_behalf(
    api, workflow, agent, reviewers
):
    iam1, iam2 = reviewers["iam"]
    assign_perm("agents.review_iam", iam2, agent)
    package = workflow.submit(agent)
    away(iam2, iam1, "iam", since=timedelta(hours=1), until=timedelta(days=1))
    client = api(iam1)
    body = {"verdict": "approve", "answers": workflow.answers(package, "iam")}
    response = client.post(f"{PACKAGE}/signoffs/iam/decisions", body, format="json")
    assert response.status_code == 201, response.json()
    decision = response.json()["decision"]
    assert decision["reviewer"] == "iam1" and decision["on_behalf_of"] == "iam2"
    detail = client.get(PACKAGE).json()
    iam = next(s for s in detail["signoffs"] if s["dimension"] == "iam")
    assert iam["decisions"][0]["on_behalf_of"] == "iam2" and iam["assigned_to"] is None
    security = next(s for s in detail["signoffs"] if s["dimension"] == "security")
    assert security["decisions"] == []


def test_staff_reassign_through_the_api(api, workflow, agent, reviewers, staff, audit_since):
    workflow.submit(agent)
    client = api(staff)
    since = audit_since()
    response = client.post(
        f"{PACKAGE}/signoffs/pam/reassign", {"user": "pam2", "reason": "Leave."}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["assigned_to"] == "pam2"
    assert [e.action for e in since()] == ["signoff.reassigned"]
    refused = client.post(
        f"{PACKAGE}/signoffs/pam/reassign", {"user": "owner", "reason": "x"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "not_reviewer"
    assert "user" in refused.json()["error"]["fields"]
