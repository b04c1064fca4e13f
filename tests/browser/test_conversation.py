"""The conversation in a real Chromium: a reviewer asks about a scope entry from its row, the
owner answers the decision that requested changes in place, all by keyboard; a long
conversation unfolds by keyboard; a phone's width."""

import pytest
from playwright.sync_api import expect

from approvals.comments import comment_create
from approvals.models import Comment
from audit.actors import Actor
from outbox.models import Notification
from signoffs.models import Dimension, Verdict
from tests.browser.test_phone import PHONE, no_sideways_scroll, phone_page
from tests.browser.test_review_keyboard import tab_to
from web.conversation import REPLIES_SHOWN, THREADS_SHOWN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def asked(workflow, agent, reviewers):
    """v1 in review; security1 requested changes on it."""
    package = workflow.submit(agent)
    decision = workflow.decide(
        package,
        Dimension.SECURITY,
        verdict=Verdict.REQUEST_CHANGES,
        comment="Refunds need a cap.",
    )
    return package, decision


def test_reviewer_asks_about_an_entry_and_the_owner_answers_in_place(
    live_server, sign_in, agent, asked, shots
):
    package, decision = asked
    entry = package.entries.order_by("kind", "identifier").first()
    label = f"{entry.identifier}"
    page = sign_in("iam1")
    page.goto(f"{live_server.url}{package.get_absolute_url()}")
    # The scope row's link opens the new comment form with the entry chosen.
    tab_to(page, f"#scope td.talk a[href*='about={entry.kind}']")
    page.keyboard.press("Enter")
    form = page.locator("#comment-new")
    expect(form.get_by_label("About")).to_have_value(f"{entry.kind}:{entry.identifier}")
    # The text is what comes next: the focus is on it.
    expect(page.locator("#c-new-body")).to_be_focused()
    page.keyboard.type("Why is this needed, @owner? <b>not bold</b>")
    tab_to(page, "#comment-new button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("comment").first).to_contain_text("<b>not bold</b>")
    first = Comment.objects.get()
    assert (first.entry_kind, first.entry_identifier) == (entry.kind, entry.identifier)
    assert Notification.objects.filter(event="comment.mentioned").count() == 1
    expect(page.locator("#scope td.talk").first).to_contain_text("1")
    shots(page, "conversation-entry-comment")

    owner = sign_in("owner")
    owner.goto(f"{live_server.url}{package.get_absolute_url()}")
    callout = owner.get_by_test_id("state-reason")
    expect(callout).to_contain_text("Refunds need a cap.")
    tab_to(owner, f"[data-testid=state-reason] a[href='#decision-{decision.pk}']")
    owner.keyboard.press("Enter")
    tab_to(owner, f"#decision-{decision.pk} summary")
    owner.keyboard.press("Enter")
    tab_to(owner, f"#c-answer-{decision.pk}-body")
    owner.keyboard.type("Capped at 100 EUR in v2.")
    tab_to(owner, f"#decision-{decision.pk} form button[type=submit]")
    owner.keyboard.press("Enter")
    answers = owner.locator(f"#decision-{decision.pk} .answers")
    expect(answers).to_contain_text("Capped at 100 EUR in v2.")
    assert Comment.objects.get(decision=decision).author.username == "owner"
    # security1 is told of the answer.
    assert Notification.objects.filter(event="comment.replied").count() == 1
    # A reply to the entry's thread, then an error that keeps the text.
    tab_to(owner, "#conversation .thread summary")
    owner.keyboard.press("Enter")
    tab_to(owner, f"#c-reply-{first.pk}-body")
    owner.keyboard.type(f"It is for {label}; ask @nobody.")
    tab_to(owner, "#conversation .thread form button[type=submit]")
    owner.keyboard.press("Enter")
    body = owner.locator(f"#c-reply-{first.pk}-body")
    expect(body).to_be_focused()
    expect(body).to_have_value(f"It is for {label}; ask @nobody.")
    expect(owner.locator("#conversation .thread")).to_contain_text(
        "@nobody cannot be mentioned: mention only people who may see support-assistant."
    )
    shots(owner, "conversation-reply-error")
    assert Comment.objects.count() == 2


def test_the_conversation_fits_a_phone(
    browser, live_server, csp_violations, agent, asked, owner, reviewers, shots
):
    package, decision = asked
    entry = package.entries.order_by("kind", "identifier").first()
    long_word = "refund-" * 30
    first = comment_create(
        actor=Actor.for_user(reviewers["iam"][0]),
        package=package,
        body=f"Is {long_word} needed? @owner\nSecond line.",
        entry={"kind": entry.kind, "identifier": entry.identifier},
    )
    comment_create(actor=Actor.for_user(owner), package=package, body="Yes.", parent=first)
    comment_create(actor=Actor.for_user(owner), package=package, body="Capped.", decision=decision)
    context, page = phone_page(browser, live_server, "owner", csp_violations)
    try:
        no_sideways_scroll(page, f"{live_server.url}{package.get_absolute_url()}")
        page.locator("#conversation").scroll_into_view_if_needed()
        box = page.locator("#conversation").bounding_box()
        assert box["x"] + box["width"] <= PHONE["width"]
        shots(page, "phone-conversation")
    finally:
        context.close()


def test_a_long_conversation_unfolds_by_keyboard(live_server, sign_in, asked, owner, shots):
    package, _ = asked
    actor = Actor.for_user(owner)
    threads = [
        comment_create(actor=actor, package=package, body=f"Thread {n}.")
        for n in range(THREADS_SHOWN + 2)
    ]
    replies = [
        comment_create(actor=actor, package=package, body=f"Reply {n}.", parent=threads[-1])
        for n in range(REPLIES_SHOWN + 1)
    ]
    page = sign_in("iam1")
    page.goto(f"{live_server.url}{package.get_absolute_url()}")
    conversation = page.locator("#conversation")
    expect(conversation.locator(".thread")).to_have_count(THREADS_SHOWN)
    # The two oldest threads come before the shown ones, the first of them focused.
    tab_to(page, "#conversation > .gap a")
    expect(page.locator("*:focus")).to_have_text("Show 2 earlier threads")
    page.keyboard.press("Enter")
    expect(page.locator(f"#comment-{threads[0].pk}")).to_be_focused()
    expect(conversation.locator(".thread")).to_have_count(THREADS_SHOWN + 2)
    expect(conversation.locator(".thread").first).to_contain_text("Thread 0.")
    # The newest thread's oldest reply, folded: Enter on its link loads it in place, focused.
    tab_to(page, "#conversation .thread .gap a")
    expect(page.locator("*:focus")).to_have_text("Show 1 earlier reply")
    page.keyboard.press("Enter")
    expect(page.locator(f"#comment-{replies[0].pk}")).to_be_focused()
    expect(conversation.locator(".gap")).to_have_count(0)
    shots(page, "conversation-unfolded")
