"""The package page's conversation: threads on the package, on scope entries, under decisions."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.comments import comment_create
from approvals.models import Comment
from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.models import Dimension, Verdict
from web.conversation import entry_anchor

pytestmark = pytest.mark.django_db


def _page(agent, package):
    return reverse("package-detail", args=[agent.slug, package.version])


def _post(agent, package):
    return reverse("package-comment", args=[agent.slug, package.version])


def test_a_comment_on_an_entry_is_linked_from_its_scope_row(client, workflow, agent, owner):
    package = workflow.submit(agent)
    entry = package.entries.order_by("kind", "identifier").first()
    client.force_login(owner)
    about = f"{entry.kind}:{entry.identifier}"
    page = client.get(_page(agent, package), {"about": about}).content.decode()
    # The row's link opens the new comment form with the entry chosen.
    assert f'<option value="{about}" selected>' in page
    response = client.post(
        _post(agent, package),
        {"thread": "new", "entry": about, "body": "Why <script>alert(1)</script> @iam1?"},
    )
    comment = Comment.objects.get()
    assert response.status_code == 302
    page = _page(agent, package)
    assert response["Location"] == f"{page}?comment={comment.pk}#comment-{comment.pk}"
    html = client.get(_page(agent, package)).content.decode()
    anchor = entry_anchor(entry.kind, entry.identifier)
    assert f'<a href="#{anchor}">1<span class="visually-hidden"> comment on' in html
    assert f'<section class="entry-talk" id="{anchor}"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert '<span class="mention">@iam1</span>?' in html
    assert AuditEvent.objects.filter(action="comment.created").count() == 1


def test_a_reply_joins_the_thread(client, workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    first = comment_create(
        actor=Actor.for_user(reviewers["iam"][0]), package=package, body="Who owns the SVID?"
    )
    client.force_login(owner)
    response = client.post(
        _post(agent, package), {"thread": f"reply-{first.pk}", "body": "Platform team."}
    )
    assert response.status_code == 302
    reply = Comment.objects.exclude(pk=first.pk).get()
    assert reply.parent == first
    html = client.get(_page(agent, package)).content.decode()
    assert "Reply to iam1" in html and "Platform team." in html


def test_the_owner_answers_a_decision_in_place(client, workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    decision = workflow.decide(
        package,
        Dimension.SECURITY,
        verdict=Verdict.REQUEST_CHANGES,
        comment="Narrow the ticket scope to read.",
    )
    client.force_login(owner)
    html = client.get(_page(agent, package)).content.decode()
    reason = html.split('data-testid="state-reason"', 1)[1].split("</div>", 1)[0]
    assert f'<a href="#decision-{decision.pk}">Answer security1 under the decision</a>' in reason
    assert f'<div class="decision" id="decision-{decision.pk}"' in html
    response = client.post(
        _post(agent, package), {"thread": f"answer-{decision.pk}", "body": "Read-only in v2."}
    )
    assert response.status_code == 302
    assert Comment.objects.get().decision == decision
    html = client.get(_page(agent, package)).content.decode()
    card = html.split(f'id="decision-{decision.pk}"', 1)[1].split("</article>", 1)[0]
    assert "Read-only in v2." in card
    assert "(1 answer)" in html


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"thread": "new", "body": ""}, "Write a comment."),
        ({"thread": "new", "body": "x" * 4001}, "at most 4000 characters"),
        (
            {"thread": "new", "body": "Ask @nobody."},
            "@nobody cannot be mentioned: mention only people who may see support-assistant.",
        ),
        ({"thread": "new", "body": "Hi.", "entry": "tool:no-such"}, "Select a valid choice"),
        ({"thread": "reply-999999", "body": "Hi."}, "v1 has no comment 999999."),
    ],
)
def test_an_error_keeps_the_text_and_says_why(client, workflow, agent, owner, data, problem):
    package = workflow.submit(agent)
    client.force_login(owner)
    response = client.post(_post(agent, package), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert problem in html
    if data["body"]:
        assert data["body"][:50] in html
    assert Comment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="comment.created").exists()


def test_a_mention_of_someone_who_cannot_see_the_agent_reads_as_one_of_nobody(
    client, workflow, agent, owner, other_owner
):
    package = workflow.submit(agent)
    client.force_login(owner)
    answers = {}
    for name in (other_owner.username, "no-such-person"):
        body = f"Over to @{name}."
        response = client.post(_post(agent, package), {"thread": "new", "body": body})
        assert response.status_code == 400
        errors = response.context["talk"].new_form.errors.get_json_data()
        answers[name] = json.dumps(errors).replace(name, "NAME")
        assert body in response.content.decode()
    assert answers[other_owner.username] == answers["no-such-person"]
    assert "body" in json.loads(answers["no-such-person"])
    assert Comment.objects.count() == 0


def test_an_unknown_form_or_an_unseen_agent_changes_nothing(
    client, workflow, agent, other_owner, owner
):
    package = workflow.submit(agent)
    client.force_login(owner)
    assert client.post(_post(agent, package), {"thread": "x", "body": "Hi."}).status_code == 400
    client.force_login(other_owner)
    assert client.post(_post(agent, package), {"thread": "new", "body": "Hi."}).status_code == 404
    assert client.get(_post(agent, package)).status_code in (404, 405)
    assert Comment.objects.count() == 0


def test_the_page_queries_do_not_grow_with_comments(client, workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    decision = workflow.decide(
        package, Dimension.PAM, verdict=Verdict.REQUEST_CHANGES, comment="Break-glass?"
    )
    entry = package.entries.first()
    actor = Actor.for_user(owner)
    comment_create(actor=actor, package=package, body="First @iam1.")
    client.force_login(reviewers["iam"][0])
    client.get(_page(agent, package))
    with CaptureQueriesContext(connection) as few:
        client.get(_page(agent, package))
    for n in range(4):
        first = comment_create(
            actor=actor,
            package=package,
            body=f"On the entry @pam{n % 2 + 1}.",
            entry={"kind": entry.kind, "identifier": entry.identifier},
        )
        comment_create(actor=actor, package=package, body="Reply.", parent=first)
        comment_create(actor=actor, package=package, body="Answer.", decision=decision)
    with CaptureQueriesContext(connection) as many:
        html = client.get(_page(agent, package)).content.decode()
    # The decision's oldest answer is folded: its newest three are shown.
    assert html.count('data-testid="comment"') == 12
    assert "Show 1 earlier answer<" in html
    assert len(many) == len(few)


def test_the_owner_home_links_to_the_decision_to_answer(client, workflow, agent, owner):
    package = workflow.submit(agent)
    decision = workflow.decide(
        package, Dimension.IAM, verdict=Verdict.REQUEST_CHANGES, comment="Which SVID?"
    )
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'href="{_page(agent, package)}#decision-{decision.pk}">Answer iam1' in html


# Each role on the page's comment form: whoever may see the agent comments (302 back to
# the page), and one event; anyone else gets a 404 and changes nothing.
PAGE_MATRIX = {
    "owner": 302,
    "other_owner": 404,
    "iam": 302,
    "security": 302,
    "staff": 302,
    "officer": 302,
}


@pytest.mark.parametrize(("role", "expected"), list(PAGE_MATRIX.items()))
def test_page_role_matrix(
    client, workflow, agent, owner, other_owner, reviewers, staff, audit_since, role, expected
):
    from tests.factories import UserFactory

    package = workflow.submit(agent)
    people = {
        "owner": owner,
        "other_owner": other_owner,
        "iam": reviewers["iam"][0],
        "security": reviewers["security"][1],
        "staff": staff,
        "officer": UserFactory(username="officer", groups=["compliance-officer"]),
    }
    client.force_login(people[role])
    since = audit_since()
    response = client.post(_post(agent, package), {"thread": "new", "body": "A question."})
    assert response.status_code == expected
    events = [e for e in since() if e.action == "comment.created"]
    if expected == 302:
        assert len(events) == 1 and events[0].actor_label == people[role].username
    else:
        assert events == [] and not Comment.objects.exists()


def test_a_comment_splits_into_escaped_text_and_mentions():
    from web.templatetags.conversation import comment_parts

    assert comment_parts("Ask @iam1. Mail ops@example.com, not @<b>x</b>\n@pam2") == [
        ("Ask ", False),
        ("iam1", True),
        (". Mail ops@example.com, not @<b>x</b>\n", False),
        ("pam2", True),
    ]
