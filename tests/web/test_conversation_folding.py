"""A long conversation on the package page: the newest threads, replies and answers shown,
the older ones folded behind a link that loads the newest of them in place."""

import re

import pytest
from django.urls import reverse

from approvals.comments import comment_create
from approvals.models import Comment
from audit.actors import Actor
from signoffs.models import Dimension, Verdict
from web.conversation import EARLIER_PAGE, REPLIES_SHOWN, THREADS_SHOWN

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _page(package):
    return package.get_absolute_url()


def _earlier_links(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'hx-get="([^"]+)"', html)]


def _shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="comment-(\d+)"', html)]


@pytest.fixture
def talk(workflow, agent, owner, reviewers):
    """v1 in review with 45 threads on the package, the first with 25 replies, and a
    decision with 5 answers."""
    package = workflow.submit(agent)
    decision = workflow.decide(
        package, Dimension.PAM, verdict=Verdict.REQUEST_CHANGES, comment="Break-glass?"
    )
    owner_actor, iam = Actor.for_user(owner), Actor.for_user(reviewers["iam"][0])
    threads = [comment_create(actor=iam, package=package, body=f"Thread {n}.") for n in range(45)]
    replies = [
        comment_create(actor=owner_actor, package=package, body=f"Reply {n}.", parent=threads[0])
        for n in range(25)
    ]
    answers = [
        comment_create(actor=owner_actor, package=package, body=f"Answer {n}.", decision=decision)
        for n in range(5)
    ]
    return package, [t.pk for t in threads], [r.pk for r in replies], [a.pk for a in answers]


def test_the_page_shows_the_newest_and_folds_the_rest(client, owner, talk):
    package, threads, replies, answers = talk
    client.force_login(owner)
    html = client.get(_page(package)).content.decode()
    # The newest answers (under the decision, in Sign-offs) and the newest threads (the
    # first thread, with its replies, is not among them), oldest first.
    assert _shown(html) == answers[-REPLIES_SHOWN:] + threads[-THREADS_SHOWN:]
    assert f"Show {EARLIER_PAGE} earlier threads (25 not shown)</a>" in html
    assert "Show 2 earlier answers</a>" in html
    assert "(75 comments)" in html and "(5 answers)" in html


def test_show_earlier_loads_the_newest_of_the_folded_in_place(client, owner, talk):
    package, threads, replies, answers = talk
    client.force_login(owner)
    (more_answers, more_threads) = _earlier_links(client.get(_page(package)).content.decode())
    response = client.get(more_threads, headers=HTMX)
    assert response.status_code == 200
    part = response.content.decode()
    assert "<html" not in part
    # Twenty threads before those shown, a link first for the five older still folded.
    older = threads[5:25]
    assert _shown(part) == older
    assert f'id="comment-{older[0]}" tabindex="-1" autofocus' in part
    assert part.count("autofocus") == 1
    assert part.lstrip().startswith('<p class="gap">') and "Show 5 earlier threads</a>" in part
    (oldest,) = _earlier_links(part)
    last = client.get(oldest, headers=HTMX).content.decode()
    # The oldest thread comes with its newest replies, and a link for the others.
    assert _shown(last) == threads[:5][:1] + replies[-REPLIES_SHOWN:] + threads[1:5]
    assert f"Show {EARLIER_PAGE} earlier replies (22 not shown)</a>" in last
    assert 'class="gap"' in last.split("<article", 2)[1]
    (earlier_replies,) = _earlier_links(last)
    page = client.get(earlier_replies, headers=HTMX).content.decode()
    assert _shown(page) == replies[2:22]
    assert page.lstrip().startswith('<li class="gap">') and "Show 2 earlier replies</a>" in page
    answers_part = client.get(more_answers, headers=HTMX).content.decode()
    assert _shown(answers_part) == answers[:2] and 'class="gap"' not in answers_part


def test_without_htmx_the_folded_come_as_a_page(client, owner, talk):
    package, threads, *_ = talk
    client.force_login(owner)
    (_, more) = _earlier_links(client.get(_page(package)).content.decode())
    response = client.get(more)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Earlier comments on" in html and 'href="/agents/' in html
    assert _shown(html) == threads[5:25]
    assert f'href="{_page(package)}#conversation">Back to the conversation</a>' in html


def test_a_comment_the_address_names_is_shown_with_its_thread(client, owner, talk):
    package, threads, replies, answers = talk
    client.force_login(owner)
    html = client.get(_page(package), {"comment": replies[3]}).content.decode()
    shown = [pk for pk in _shown(html) if pk not in answers]
    # The thread's first comment, the reply named, the newest replies; folded between.
    assert shown[:5] == [threads[0], replies[3], *replies[-REPLIES_SHOWN:]]
    assert "Show 3 earlier replies</a>" in html
    assert "Show 18 earlier replies</a>" in html
    assert "Show 20 earlier threads (24 not shown)</a>" in html


def test_an_error_in_a_folded_thread_keeps_the_thread_and_the_text(client, owner, talk):
    package, threads, *_ = talk
    client.force_login(owner)
    url = reverse("package-comment", args=[package.agent.slug, package.version])
    count = Comment.objects.count()
    response = client.post(url, {"thread": f"reply-{threads[1]}", "body": "Ask @nobody."})
    assert response.status_code == 400
    html = response.content.decode()
    assert threads[1] in _shown(html)
    form = html.split(f'id="c-reply-{threads[1]}-body"', 1)[1]
    assert "Ask @nobody." in form.split("</textarea>", 1)[0]
    assert "@nobody cannot be mentioned: mention only people who may see support-assistant." in html
    assert Comment.objects.count() == count


def test_a_reply_posted_in_a_folded_thread_is_shown_after(client, owner, talk):
    package, threads, *_ = talk
    client.force_login(owner)
    url = reverse("package-comment", args=[package.agent.slug, package.version])
    response = client.post(url, {"thread": f"reply-{threads[1]}", "body": "Late answer."})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "Late answer." in html and threads[1] in _shown(html)


@pytest.mark.parametrize(
    ("query", "status", "problem"),
    [
        ({"of": "package"}, 400, "before: This field is required."),
        ({"of": "nothing", "before": "1"}, 400, "of: No such list of comments."),
        ({"of": "package", "before": "x"}, 400, "before: Enter a whole number."),
        ({"of": "package", "before": "9" * 30}, 400, "before: Ensure this value is less"),
        ({"of": "pack\x00age", "before": "1"}, 400, "of: Null characters are not allowed."),
        ({"of": "package", "before": "1"}, 404, ""),
        ({"of": "reply-1", "before": "1"}, 404, ""),
    ],
)
def test_a_wrong_earlier_link_says_why(client, owner, talk, query, status, problem):
    package, *_ = talk
    client.force_login(owner)
    url = reverse("package-comments-earlier", args=[package.agent.slug, package.version])
    response = client.get(url, query, headers=HTMX)
    assert response.status_code == status
    assert problem in response.content.decode()


def test_a_link_with_nothing_between_after_and_before_is_a_404(client, owner, talk):
    package, threads, *_ = talk
    client.force_login(owner)
    url = reverse("package-comments-earlier", args=[package.agent.slug, package.version])
    query = {"of": "package", "before": threads[1], "after": threads[3]}
    assert client.get(url, query).status_code == 404
    # Nothing earlier than the oldest thread, nor between two neighbours.
    assert client.get(url, {"of": "package", "before": threads[0]}).status_code == 404
    query = {"of": "package", "before": threads[3], "after": threads[2]}
    assert client.get(url, query).status_code == 404
    query = {"of": "package", "before": threads[3], "after": threads[1]}
    assert _shown(client.get(url, query).content.decode()) == [threads[2]]


def test_who_may_not_see_the_agent_gets_a_404(client, other_owner, talk):
    package, threads, *_ = talk
    client.force_login(other_owner)
    url = reverse("package-comments-earlier", args=[package.agent.slug, package.version])
    assert client.get(url, {"of": "package", "before": threads[-1]}).status_code == 404
