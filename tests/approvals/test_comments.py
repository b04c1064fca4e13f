"""Comments on a package: who writes them, threads, mentions that mail, the audit event."""

import pytest

from approvals.comments import can_comment, comment_create, mentioned_names
from approvals.models import COMMENT_MAX_LENGTH, COMMENT_MAX_MENTIONS, Comment
from audit.actors import Actor
from config.errors import InvalidInput, NotPermitted
from outbox.models import Notification
from outbox.services import notification_mail, notification_prepare
from signoffs.models import Verdict
from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _comment(user, package, body="Looks fine.", **kwargs):
    return comment_create(actor=Actor.for_user(user), package=package, body=body, **kwargs)


def test_a_comment_is_kept_with_its_audit_event(workflow, agent, owner, audit_since):
    package = workflow.submit(agent)
    since = audit_since()
    comment = _comment(owner, package, "  Why is refunds write?  ")
    assert comment.body == "Why is refunds write?"
    events = since()
    assert [e.action for e in events] == ["comment.created"]
    event = events[0]
    assert event.actor_label == "owner" and event.target_id == str(comment.pk)
    assert event.agent_slug == agent.slug and event.package_version == package.version
    assert event.data == {
        "body": "Why is refunds write?",
        "entry_kind": "",
        "entry_identifier": "",
        "parent": None,
        "decision": None,
        "mentions": [],
    }


def test_whoever_sees_the_agent_comments_and_nobody_else(
    workflow, agent, owner, other_owner, reviewers, staff
):
    package = workflow.submit(agent)
    officer = UserFactory(username="officer", groups=["compliance-officer"])
    teammate = UserFactory(username="teammate", groups=["product-owner"])
    agent.team.members.add(teammate)
    for user in (owner, reviewers["iam"][0], reviewers["pam"][1], staff, officer, teammate):
        assert can_comment(user, package), user
        _comment(user, package)
    assert not can_comment(other_owner, package)
    with pytest.raises(NotPermitted) as refused:
        _comment(other_owner, package)
    assert refused.value.code == "not_visible"
    inactive = UserFactory(username="gone", groups=["iam"], is_active=False)
    assert not can_comment(inactive, package)
    with pytest.raises(NotPermitted):
        comment_create(actor=Actor.system("tests"), package=package, body="Hello.")
    assert Comment.objects.count() == 6


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "Write a comment."),
        ("   \n ", "Write a comment."),
        ("x" * (COMMENT_MAX_LENGTH + 1), f"At most {COMMENT_MAX_LENGTH} characters"),
        ("a\x00b", "NUL"),
    ],
)
def test_a_bad_body_is_a_field_error_and_changes_nothing(
    workflow, agent, owner, audit_since, body, problem
):
    package = workflow.submit(agent)
    since = audit_since()
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, body)
    assert problem in error.value.fields["body"][0]
    assert Comment.objects.count() == 0 and since() == []


def test_a_comment_on_a_scope_entry_names_an_entry_of_the_version(workflow, agent, owner):
    package = workflow.submit(agent)
    entry = package.entries.order_by("pk").first()
    comment = _comment(owner, package, entry={"kind": entry.kind, "identifier": entry.identifier})
    assert (comment.entry_kind, comment.entry_identifier) == (entry.kind, entry.identifier)
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, entry={"kind": "tool", "identifier": "no-such-tool"})
    assert error.value.fields["entry"] == ["v1 has no tool 'no-such-tool'."]
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, entry={"kind": "gadget", "identifier": entry.identifier})
    assert "Unknown entry kind 'gadget'" in error.value.fields["entry"][0]


def test_replies_join_their_thread_and_take_its_entry(workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    entry = package.entries.order_by("pk").first()
    iam = reviewers["iam"][0]
    first = _comment(iam, package, entry={"kind": entry.kind, "identifier": entry.identifier})
    reply = _comment(owner, package, "It is read-only now.", parent=first)
    again = _comment(iam, package, "Thanks.", parent=reply.pk)
    assert reply.parent == first and again.parent == first
    assert again.entry_identifier == entry.identifier
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, parent=first, entry={"kind": entry.kind, "identifier": "x"})
    assert "not parent and entry" in error.value.fields["parent"][0]
    other = workflow.create(AgentFactory(slug="other-agent", owners=[owner]))
    with pytest.raises(InvalidInput) as error:
        _comment(owner, other, parent=first.pk)
    assert error.value.fields["parent"] == [f"v1 has no comment {first.pk}."]


def test_the_owner_answers_a_decision_that_requested_changes(
    workflow, agent, owner, reviewers, mailoutbox
):
    package = workflow.submit(agent)
    security = reviewers["security"][0]
    decision = workflow.decide(
        package, "security", verdict=Verdict.REQUEST_CHANGES, comment="Refunds need a cap."
    )
    answer = _comment(owner, package, "Capped at 100 EUR in v2.", decision=decision)
    assert answer.decision == decision and answer.parent is None
    follow_up = _comment(security, package, "Good.", parent=answer)
    assert follow_up.decision == decision and follow_up.parent is None
    note = Notification.objects.get(event="comment.replied", payload__data__comment=answer.body)
    assert note.payload["data"]["recipients"] == [security.email]
    assert "Security decision of security1" in note.payload["data"]["about"]
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, decision=decision.pk + 1000)
    assert error.value.fields["decision"] == [f"v1 has no decision {decision.pk + 1000}."]


def test_mentions_are_read_from_the_text():
    text = "@iam1 and @pam2, see mail ops@example.com; ask @staff. Not @@x or a@b. (@security1)"
    assert mentioned_names(text) == ["iam1", "pam2", "staff", "security1"]


def test_a_mention_mails_the_person_with_the_package_commenter_comment_and_link(
    workflow, agent, owner, reviewers, mailoutbox, settings
):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "SITE_URL": "https://cs.example.com"}
    package = workflow.submit(agent)
    comment = _comment(owner, package, "@iam1 @pam1 can you look at <b>refunds</b>?")
    assert [u.username for u in comment.mentions.order_by("username")] == ["iam1", "pam1"]
    note = Notification.objects.get(event="comment.mentioned")
    assert note.payload["data"]["recipients"] == ["iam1@example.com", "pam1@example.com"]
    notification_prepare(notification_id=note.pk)
    notification_mail(notification_id=note.pk)
    [mail] = mailoutbox
    assert mail.subject == "[Countersign] You were mentioned in a comment: support-assistant"
    assert sorted(mail.to) == ["iam1@example.com", "pam1@example.com"]
    assert "Package version: v1" in mail.body
    assert "Commenter: owner" in mail.body
    assert "Comment: @iam1 @pam1 can you look at <b>refunds</b>?" in mail.body
    link = (
        f"https://cs.example.com/agents/support-assistant/v1/?comment={comment.pk}"
        f"#comment-{comment.pk}"
    )
    assert f"Link: {link}" in mail.body
    # The mentioned are not mailed twice, nor the author about their own comment.
    assert not Notification.objects.filter(event="comment.replied").exists()


def test_a_comment_of_several_lines_is_quoted_and_cannot_pass_for_the_mails_own_lines(
    workflow, agent, owner, reviewers, mailoutbox, settings
):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "SITE_URL": "https://cs.example.com"}
    package = workflow.submit(agent)
    text = "@iam1 please look.\r\n\nLink: https://evil.example/login\rCommenter: security1"
    comment = _comment(owner, package, text)
    note = Notification.objects.get(event="comment.mentioned")
    notification_prepare(notification_id=note.pk)
    notification_mail(notification_id=note.pk)
    [mail] = mailoutbox
    link = f"https://cs.example.com/agents/support-assistant/v1/?comment={comment.pk}"
    body = mail.body.splitlines()
    assert [line for line in body if line.startswith(("Link:", "Commenter:"))] == [
        "Commenter: owner",
        f"Link: {link}#comment-{comment.pk}",
    ]
    start = body.index("Comment:")
    assert body[start : start + 5] == [
        "Comment:",
        "> @iam1 please look.",
        ">",
        "> Link: https://evil.example/login",
        "> Commenter: security1",
    ]


def test_a_mention_names_someone_who_may_see_the_agent(
    workflow, agent, owner, other_owner, audit_since
):
    package = workflow.submit(agent)
    since = audit_since()
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, "@nobody and @other-owner, look.")
    assert error.value.code == "invalid_mention"
    mention_refused = "cannot be mentioned: mention only people who may see support-assistant."
    assert error.value.fields["body"] == [
        f"@nobody {mention_refused}",
        f"@other-owner {mention_refused}",
    ]
    names = " ".join(f"@user{n}" for n in range(COMMENT_MAX_MENTIONS + 1))
    with pytest.raises(InvalidInput) as error:
        _comment(owner, package, names)
    assert error.value.fields["body"] == [
        f"Mention at most {COMMENT_MAX_MENTIONS} people in one comment."
    ]
    assert Comment.objects.count() == 0 and since() == []
    assert not Notification.objects.filter(event__startswith="comment.").exists()


def test_a_draft_takes_comments_too(workflow, agent, owner, reviewers):
    draft = workflow.create(agent)
    comment = _comment(reviewers["compliance"][0], draft, "Retention looks short.")
    assert comment.package == draft
