"""Staff see what people who left still hold: pending sign-offs that wait only for reviewers
deactivated or out of the dimension's group since, agents with no active owner, and absences
whose delegate left; the dashboard tells staff when there are any."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.membership import Source, reviewer_assign, user_flags_set, user_groups_change
from approvals.delegation import signoff_reassign
from audit.actors import Actor
from tests.approvals.delegation import away
from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("staff-left-behind")


def _rows(response, kind: str) -> list:
    return response.context[kind]


def _leave(staff, agent, package, reviewers):
    """Reassign the security sign-off to security1 and deactivate them; assign iam1 to the
    agent's IAM review and move them to PAM; make pam2 delegate of pam1 and deactivate pam2."""
    actor = Actor.for_user(staff)
    security1 = reviewers["security"][0]
    iam1 = reviewers["iam"][0]
    pam1, pam2 = reviewers["pam"]
    signoff_reassign(
        actor=actor, package=package, dimension="security", user=security1, reason="Owns SIEM"
    )
    reviewer_assign(
        actor=actor, agent=agent, user=iam1, permission="review_iam", source=Source.PAGE
    )
    away(pam1, pam2, "pam")
    user_flags_set(security1, actor=actor, source=Source.PAGE, is_active=False)
    user_flags_set(pam2, actor=actor, source=Source.PAGE, is_active=False)
    user_groups_change(iam1, actor=actor, source=Source.PAGE, add=["pam"], remove=["iam"])


def test_staff_see_the_reviews_agents_and_absences_people_who_left_hold(
    client, workflow, agent, owner, reviewers, staff
):
    package = workflow.submit(agent)
    AgentFactory(slug="kept", owners=[owner, UserFactory(username="old", is_active=False)])
    gone = UserFactory(username="gone", groups=["product-owner"])
    AgentFactory(slug="orphan", owners=[gone])
    _leave(staff, agent, package, reviewers)
    user_flags_set(gone, actor=Actor.for_user(staff), source=Source.PAGE, is_active=False)
    client.force_login(staff)

    page = client.get(PAGE)

    assert page.status_code == 200
    signoffs = {s.dimension: s for s in _rows(page, "signoffs")}
    assert sorted(signoffs) == ["iam", "security"]
    assert [(u.username, why) for u, why in signoffs["security"].waiting_for] == [
        ("security1", "deactivated")
    ]
    assert [(u.username, why) for u, why in signoffs["iam"].waiting_for] == [
        ("iam1", "not in the IAM group")
    ]
    assert [a.slug for a in _rows(page, "agents")] == ["orphan"]
    (absence,) = _rows(page, "absences")
    assert (absence.reviewer.username, absence.delegate.username, absence.why) == (
        "pam1",
        "pam2",
        "deactivated",
    )
    assert page.context["counts"] == {"signoffs": 2, "agents": 1, "absences": 1}
    assert reverse("agent-reviewers", args=[agent.slug]).encode() in page.content
    assert reverse("agent-edit", args=["orphan"]).encode() in page.content
    callout = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="left-behind"' in callout and PAGE in callout


def test_a_reassigned_sign_off_leaves_the_list(client, workflow, agent, reviewers, staff):
    package = workflow.submit(agent)
    _leave(staff, agent, package, reviewers)
    signoff_reassign(
        actor=Actor.for_user(staff),
        package=package,
        dimension="security",
        user=reviewers["security"][1],
        reason="security1 left",
    )
    client.force_login(staff)
    assert [s.dimension for s in _rows(client.get(PAGE), "signoffs")] == ["iam"]


def test_nothing_left_behind_shows_no_callout(client, workflow, agent, staff):
    workflow.submit(agent)
    client.force_login(staff)
    page = client.get(PAGE)
    assert page.context["counts"] == {"signoffs": 0, "agents": 0, "absences": 0}
    assert b'data-testid="left-behind"' not in client.get(reverse("dashboard")).content


@pytest.mark.parametrize("role", ["owner", "iam", "auditor"])
def test_only_staff_see_the_page_or_the_callout(
    client, workflow, agent, owner, reviewers, staff, role
):
    package = workflow.submit(agent)
    _leave(staff, agent, package, reviewers)
    people = {
        "owner": owner,
        "iam": reviewers["iam"][1],
        "auditor": UserFactory(username="auditor", groups=["compliance-officer"]),
    }
    assert client.get(PAGE).status_code == 302  # signed out: to the sign-in page
    client.force_login(people[role])
    assert client.get(PAGE).status_code == 403
    assert b'data-testid="left-behind"' not in client.get(reverse("dashboard")).content


def test_the_page_reads_as_many_rows_in_as_many_queries(client, workflow, reviewers, staff):
    actor = Actor.for_user(staff)
    client.force_login(staff)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    def left(start, n):
        """Leave n agents, each with its owner, its reassigned reviewer and that reviewer's
        delegate deactivated."""
        for i in range(start, start + n):
            gone = UserFactory(username=f"owner-{i}", groups=["product-owner"])
            reviewer = UserFactory(username=f"sec-{i}", groups=["security"])
            delegate = UserFactory(username=f"sec-delegate-{i}", groups=["security"])
            agent = AgentFactory(slug=f"agent-left-{i}", owners=[gone])
            package = type(workflow)(gone, reviewers).submit(agent)
            signoff_reassign(
                actor=actor, package=package, dimension="security", user=reviewer, reason="SIEM"
            )
            away(reviewer, delegate, "security")
            for person in (gone, reviewer, delegate):
                user_flags_set(person, actor=actor, source=Source.PAGE, is_active=False)

    left(0, 1)
    few = queries()
    left(1, 4)
    assert queries() == few
    assert client.get(PAGE).context["counts"] == {"signoffs": 5, "agents": 5, "absences": 5}
