"""Every list page answers in a fixed number of queries, however many rows it shows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.membership import Source, reviewer_assign
from agents.models import Agent, AgentStatus
from approvals.comments import comment_create
from approvals.models import ApprovalPackage, Comment, DriftFinding, PackageState
from audit.actors import Actor
from audit.services import audit_record
from signoffs.models import Checklist, Dimension, SignOff, Verdict
from tests.factories import AgentFactory, UserFactory
from web.conversation import THREADS_SHOWN

pytestmark = pytest.mark.django_db


def add_rows(count, *, owner, checklists, start=0):
    """Add `count` agents, each with an approved v1 expiring soon, a v2 in review with four
    pending sign-offs, an open drift finding, an audit event; every other one suspended."""
    now = timezone.now()
    checklist = {c.dimension: c for c in Checklist.objects.filter(is_active=True)}
    for n in range(start, start + count):
        agent = AgentFactory(slug=f"row-agent-{n}", owners=[owner], team=f"team-{n % 3}")
        ApprovalPackage.objects.create(
            agent=agent,
            version=1,
            state=PackageState.APPROVED,
            manifest={},
            digest="a" * 64,
            risk_tier="low",
            created_by=owner,
            submitted_by=owner,
            submitted_at=now,
            approved_at=now,
            expires_at=now + timedelta(days=3),
        )
        review = ApprovalPackage.objects.create(
            agent=agent,
            version=2,
            state=PackageState.IN_REVIEW,
            manifest={},
            digest="b" * 64,
            risk_tier="high",
            created_by=owner,
            submitted_by=owner,
            submitted_at=now - timedelta(hours=n),
        )
        SignOff.objects.bulk_create(
            SignOff(package=review, dimension=d, checklist=checklist[d]) for d in Dimension.values
        )
        DriftFinding.objects.create(
            agent=agent,
            package=review,
            kind="tool",
            identifier=f"tool-{n}",
            access="write",
            reason="not_in_scope",
            severity="high",
            first_seen=now,
            last_seen=now,
        )
        if n % 2:
            Agent.objects.filter(pk=agent.pk).update(
                suspended_at=now, suspended_reason="Test.", status=AgentStatus.SUSPENDED
            )
        audit_record(
            actor=Actor.for_user(owner), action="agent.created", target=agent, agent_slug=agent.slug
        )


@pytest.fixture
def viewers(db, checklists):
    return {
        "owner": UserFactory(username="row-owner", groups=["product-owner"]),
        "reviewer": UserFactory(username="row-reviewer", groups=["security"]),
    }


# The package page with its conversation, for a reviewer of one dimension.
PACKAGE_PAGE_QUERIES = 21


def counted(client, django_assert_num_queries, url, expected):
    """GET the page twice: once to fill process-wide caches (content types), once counted."""
    client.get(url)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


# (url name, viewer, queries) for every list page. The numbers are the whole request:
# session, user, the header's groups, the visibility check, the register permission
# (dashboard and agent list) and the page's own reads. The dashboard reads the user's own
# agents' packages (the reviewer owns none); for an owner with packages in review also their
# sign-offs, decisions and assigned reviewers, and their own packages' counts by state; for a
# reviewer with a queue, the absences they cover, the queue's assigned reviewers and their own
# fallback assignments; for everyone the open emergency approvals.
LIST_PAGES = [
    ("dashboard", "reviewer", 22),
    ("dashboard", "owner", 22),
    ("agent-list", "owner", 9),
    ("agent-list", "reviewer", 9),
    ("package-list", "owner", 8),
    ("package-list", "reviewer", 8),
    ("audit-log", "owner", 9),
    ("audit-log", "reviewer", 7),
]


@pytest.mark.parametrize(("name", "viewer", "queries"), LIST_PAGES)
def test_list_page_queries_do_not_grow_with_rows(
    client, django_assert_num_queries, viewers, checklists, name, viewer, queries
):
    owner = viewers["owner"]
    client.force_login(viewers[viewer])
    add_rows(10, owner=owner, checklists=checklists)
    small = counted(client, django_assert_num_queries, reverse(name), queries)
    add_rows(40, owner=owner, checklists=checklists, start=10)
    large = counted(client, django_assert_num_queries, reverse(name), queries)
    assert small.content != large.content


def test_agent_list_pages_and_filters_keep_the_count(
    client, django_assert_num_queries, viewers, checklists
):
    client.force_login(viewers["owner"])
    add_rows(50, owner=viewers["owner"], checklists=checklists)
    url = reverse("agent-list")
    page2 = counted(client, django_assert_num_queries, url + "?page=2", 9)
    assert len(page2.context["page"].object_list) == 25
    filtered = counted(
        client, django_assert_num_queries, url + "?status=suspended&team=team-1&q=row", 9
    )
    rows = filtered.context["page"].object_list
    assert rows and all(a.status == "suspended" and a.team.slug == "team-1" for a in rows)


def test_package_list_pages_and_filters_keep_the_count(
    client, django_assert_num_queries, viewers, checklists
):
    client.force_login(viewers["reviewer"])
    add_rows(30, owner=viewers["owner"], checklists=checklists)
    url = reverse("package-list")
    page2 = counted(client, django_assert_num_queries, url + "?page=2", 8)
    assert len(page2.context["page"].object_list) == 25
    filtered = counted(
        client, django_assert_num_queries, url + "?state=in_review&pending=iam&team=team-1", 8
    )
    rows = filtered.context["page"].object_list
    assert rows and all(p.state == PackageState.IN_REVIEW and p.pending for p in rows)


def test_agent_detail_queries_do_not_grow_with_versions_and_events(
    client, django_assert_num_queries, viewers, checklists
):
    owner = viewers["owner"]
    agent = AgentFactory(slug="many-versions", owners=[owner])
    checklist = {c.dimension: c for c in Checklist.objects.filter(is_active=True)}
    now = timezone.now()

    def add_versions(first, last):
        for version in range(first, last + 1):
            package = ApprovalPackage.objects.create(
                agent=agent,
                version=version,
                state=PackageState.SUPERSEDED,
                manifest={},
                digest="c" * 64,
                risk_tier="low",
                created_by=owner,
                submitted_by=owner,
                submitted_at=now,
            )
            SignOff.objects.bulk_create(
                SignOff(package=package, dimension=d, checklist=checklist[d])
                for d in Dimension.values
            )
            DriftFinding.objects.create(
                agent=agent,
                package=package,
                kind="tool",
                identifier=f"t{version}",
                access="read",
                reason="not_in_scope",
                severity="low",
                first_seen=now,
                last_seen=now,
            )
            audit_record(
                actor=Actor.for_user(owner),
                action="package.created",
                target=package,
                agent_slug=agent.slug,
                package_version=version,
            )

    client.force_login(owner)
    url = reverse("agent-detail", args=[agent.slug])
    add_versions(1, 10)
    # One of them reads the reviewers assigned to the agent, however many; one whether the
    # viewer may retire it; one its runtime usage by day (with no version in force there
    # are no entries whose sightings to read).
    counted(client, django_assert_num_queries, url, 18)
    add_versions(11, 50)
    for n, dimension in enumerate(Dimension.values):
        reviewer_assign(
            actor=Actor.system("tests"),
            agent=agent,
            user=UserFactory(username=f"assigned-{n}", groups=[dimension]),
            permission=f"review_{dimension}",
            source=Source.COMMAND,
        )
    response = counted(client, django_assert_num_queries, url, 18)
    assert len(response.context["packages"]) == 50
    assert all(row["users"] for row in response.context["reviewers"])


def partial_queries(client, url: str) -> tuple[int, bytes]:
    """GET the htmx partial of a list page twice; return the second's queries and content."""
    client.get(url, headers={"HX-Request": "true"})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content  # the table alone, not the page
    return len(queries), response.content


@pytest.mark.parametrize("name", ["agent-list", "package-list", "audit-log"])
def test_list_partials_keep_their_count_as_rows_grow(client, viewers, checklists, name):
    owner = viewers["owner"]
    client.force_login(owner)
    add_rows(10, owner=owner, checklists=checklists)
    small, small_content = partial_queries(client, reverse(name))
    add_rows(40, owner=owner, checklists=checklists, start=10)
    large, large_content = partial_queries(client, reverse(name))
    page = dict(((n, v), q) for n, v, q in LIST_PAGES)[(name, "owner")]
    assert small == large <= page
    assert small_content != large_content


def test_package_page_and_earlier_comments_keep_their_count(
    client, django_assert_num_queries, workflow, agent, owner, reviewers
):
    """The conversation shows the newest of each list and folds the rest: the page and a
    "Show earlier" partial read as much with 200 comments, ten times what a list shows
    (`web.conversation.THREADS_SHOWN`), as with a few."""
    package = workflow.submit(agent)
    decision = workflow.decide(
        package, Dimension.PAM, verdict=Verdict.REQUEST_CHANGES, comment="Break-glass?"
    )
    entry = package.entries.first()
    about = {"kind": entry.kind, "identifier": entry.identifier}
    actor = Actor.for_user(owner)
    first = comment_create(actor=actor, package=package, body="First.")

    def add(count):
        for n in range(count):
            comment_create(actor=actor, package=package, body=f"Thread {n} @iam1.")
            comment_create(actor=actor, package=package, body=f"On it {n}.", entry=about)
            comment_create(actor=actor, package=package, body=f"Reply {n}.", parent=first)
            comment_create(actor=actor, package=package, body=f"Answer {n}.", decision=decision)

    client.force_login(reviewers["iam"][0])
    page = package.get_absolute_url()
    earlier = reverse("package-comments-earlier", args=[agent.slug, package.version])

    def partial(query):
        client.get(earlier, query, headers={"HX-Request": "true"})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(earlier, query, headers={"HX-Request": "true"})
        assert response.status_code == 200
        return len(queries)

    add(5)
    counted(client, django_assert_num_queries, page, PACKAGE_PAGE_QUERIES)
    threads = Comment.objects.filter(parent=None, decision=None, entry_kind="").values_list("pk")
    few_partial = partial({"of": "package", "before": threads.last()[0]})
    add(45)
    assert Comment.objects.count() == 201 and threads.count() > THREADS_SHOWN
    many = counted(client, django_assert_num_queries, page, PACKAGE_PAGE_QUERIES)
    assert many.content.decode().count('data-testid="comment"') < 100
    assert partial({"of": "package", "before": threads.last()[0]}) == few_partial
