"""A package's conversation over HTTP: list and write comments, with the shared error shape."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import Comment
from signoffs.models import Verdict
from tests.api.conftest import error_of
from tokens.models import Scope

pytestmark = pytest.mark.django_db

COMMENTS = "/api/v1/agents/support-assistant/packages/1/comments"


@pytest.fixture
def package(workflow, agent):
    return workflow.submit(agent)


def test_owner_and_reviewer_talk_about_a_scope_entry(api, package, owner, reviewers, audit_since):
    entry = package.entries.order_by("pk").first()
    reviewer = api(reviewers["security"][0], Scope.COMMENTS_WRITE, Scope.AGENTS_READ)
    since = audit_since()
    ref = {"kind": entry.kind, "identifier": entry.identifier}
    first = reviewer.post(COMMENTS, {"body": "Why write?", "entry": ref}, format="json")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["author"] == "security1" and body["package_version"] == 1
    assert body["entry"] == ref and body["parent"] is None and body["decision"] is None
    writer = api(owner, Scope.COMMENTS_WRITE)
    reply = writer.post(
        COMMENTS, {"body": "For refunds, @security1.", "parent": body["id"]}, format="json"
    )
    assert reply.status_code == 201, reply.json()
    assert reply.json()["parent"] == body["id"] and reply.json()["entry"] == ref
    assert reply.json()["mentions"] == ["security1"]
    assert [e.action for e in since() if e.action.startswith("comment.")] == [
        "comment.created",
        "comment.created",
    ]
    listed = reviewer.get(COMMENTS).json()
    assert [c["body"] for c in listed["results"]] == ["Why write?", "For refunds, @security1."]
    one_entry = reviewer.get(
        COMMENTS, {"entry_kind": entry.kind, "entry_identifier": entry.identifier}
    ).json()
    assert one_entry["count"] == 2
    assert (
        reviewer.get(COMMENTS, {"entry_kind": "tool", "entry_identifier": "zzz"}).json()["count"]
        == 0
    )


def test_the_owner_answers_the_decision_that_requested_changes(api, workflow, package, owner):
    decision = workflow.decide(
        package, "pam", verdict=Verdict.REQUEST_CHANGES, comment="No break-glass procedure."
    )
    writer = api(owner, Scope.COMMENTS_WRITE)
    answer = writer.post(COMMENTS, {"body": "Added in v2.", "decision": decision.pk}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["decision"] == decision.pk


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "body", "invalid"),
        ({"body": "   "}, "body", "invalid"),
        ({"body": "x" * 4001}, "body", "invalid"),
        ({"body": "Hi @nobody."}, "body", "invalid_mention"),
        ({"body": "Hi.", "entry": {"kind": "tool", "identifier": "nope"}}, "entry", "invalid"),
        ({"body": "Hi.", "entry": {"kind": "gadget", "identifier": "x"}}, "entry.kind", "invalid"),
        ({"body": "Hi.", "parent": 999999}, "parent", "invalid"),
        ({"body": "Hi.", "decision": 999999}, "decision", "invalid"),
        ({"body": "Hi.", "parent": 0}, "parent", "invalid"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    api, package, owner, audit_since, body, field, code
):
    writer = api(owner, Scope.COMMENTS_WRITE)
    since = audit_since()
    response = writer.post(COMMENTS, body, format="json")
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == code and field in error["fields"], error
    assert Comment.objects.count() == 0 and since() == []


def test_a_mention_of_someone_who_cannot_see_the_agent_reads_as_one_of_nobody(
    api, package, owner, other_owner, reviewers
):
    """A commenter is not told whether a username they may not see is someone's: a person
    outside the agent, a deactivated reviewer and no one are refused in the same words."""
    gone = reviewers["iam"][1]
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    writer = api(owner, Scope.COMMENTS_WRITE)
    answers = {}
    for name in (other_owner.username, gone.username, "no-such-person"):
        response = writer.post(COMMENTS, {"body": f"Over to @{name}."}, format="json")
        assert response.status_code == 400
        answers[name] = json.dumps(error_of(response)).replace(name, "NAME")
    assert len(set(answers.values())) == 1, answers
    error = json.loads(answers["no-such-person"])
    assert error["code"] == "invalid_mention" and list(error["fields"]) == ["body"]
    assert Comment.objects.count() == 0


def test_a_token_without_the_scope_or_outside_the_agent_is_refused(
    api, package, owner, other_owner
):
    reader = api(owner, Scope.AGENTS_READ)
    refused = reader.post(COMMENTS, {"body": "Hi."}, format="json")
    assert refused.status_code == 403 and error_of(refused)["code"] == "insufficient_scope"
    outsider = api(other_owner, Scope.COMMENTS_WRITE, Scope.AGENTS_READ)
    assert outsider.post(COMMENTS, {"body": "Hi."}, format="json").status_code == 404
    assert outsider.get(COMMENTS).status_code == 404
    assert api(owner, Scope.COMMENTS_WRITE).get(COMMENTS).status_code == 403


def test_the_list_query_count_does_not_grow(api, package, owner, reviewers):
    from approvals.comments import comment_create
    from audit.actors import Actor

    reader = api(reviewers["iam"][0], Scope.AGENTS_READ)
    comment_create(actor=Actor.for_user(owner), package=package, body="One @iam1.")
    reader.get(COMMENTS)
    with CaptureQueriesContext(connection) as few:
        assert reader.get(COMMENTS).json()["count"] == 1
    for n in range(5):
        comment_create(actor=Actor.for_user(owner), package=package, body=f"More @pam{n % 2 + 1}.")
    with CaptureQueriesContext(connection) as many:
        assert reader.get(COMMENTS).json()["count"] == 6
    assert len(many) == len(few)
