"""The "My absence" page, staff reassignment on the reviewers page, and what the queue and
the package page say about delegation, fallback and reassignment."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agents.membership import user_flags_set
from approvals.models import ApprovalPackage
from audit.actors import Actor
from signoffs.models import Absence, SignOff
from tests.approvals.delegation import away
from tests.factories import UserFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db

FORMAT = "%Y-%m-%dT%H:%M"


def _window(starts=-1, ends=5):
    now = timezone.now()
    return {
        "starts_at": (now + timedelta(days=starts)).strftime(FORMAT),
        "ends_at": (now + timedelta(days=ends)).strftime(FORMAT),
    }


def test_a_reviewer_sets_and_ends_an_absence(client, reviewers, audit_since):
    pam1, pam2 = reviewers["pam"]
    client.force_login(pam1)
    page = client.get(reverse("my-absence"))
    assert page.status_code == 200 and b"You have no absence set." in page.content
    since = audit_since()
    response = client.post(
        reverse("my-absence"), {"dimension": "pam", "delegate": pam2.pk, **_window()}
    )
    assert response.status_code == 302
    absence = Absence.objects.get(reviewer=pam1)
    assert absence.delegate == pam2 and absence.dimension == "pam"
    assert [(e.action, e.actor_label) for e in since()] == [("absence.set", "pam1")]

    client.force_login(pam2)
    covering = client.get(reverse("my-absence"))
    assert b"I decide for" in covering.content and b"pam1" in covering.content
    # The delegate may not end the reviewer's absence.
    refused = client.post(reverse("absence-end", args=[absence.pk]))
    assert refused.status_code == 403 and Absence.objects.filter(pk=absence.pk).exists()

    client.force_login(pam1)
    since = audit_since()
    assert client.post(reverse("absence-end", args=[absence.pk])).status_code == 302
    assert not Absence.objects.exists()
    assert [e.action for e in since()] == ["absence.cleared"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": ""}, "ends_at"),
        ({"ends_at": "tomorrow"}, "ends_at"),
        ({**_window(-3, -1)}, "ends_at"),
        ({"dimension": "iam"}, "dimension"),
        ({"delegate": "999999"}, "delegate"),
    ],
)
def test_a_bad_absence_is_refused_beside_its_field(client, reviewers, audit_since, change, field):
    pam1, pam2 = reviewers["pam"]
    client.force_login(pam1)
    since = audit_since()
    body = {"dimension": "pam", "delegate": pam2.pk, **_window(), **change}
    response = client.post(reverse("my-absence"), body)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert since() == [] and not Absence.objects.exists()


def test_only_reviewers_have_an_absence_page(client, owner):
    client.force_login(owner)
    assert client.get(reverse("my-absence")).status_code == 403


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 403), ("pam1", 403), ("auditor", 403), ("staff", 302)]
)
def test_reassignment_role_matrix(
    client, workflow, agent, owner, reviewers, staff, audit_since, role, status
):
    people = {
        "owner": owner,
        "pam1": reviewers["pam"][0],
        "auditor": UserFactory(username="auditor", groups=["compliance-officer"]),
        "staff": staff,
    }
    workflow.submit(agent)
    client.force_login(people[role])
    since = audit_since()
    body = {"reassign-dimension": "pam", "reassign-user": "pam2", "reassign-reason": "Leave."}
    response = client.post(reverse("agent-signoff-reassign", args=[agent.slug]), body)
    assert response.status_code == status
    events = since()
    if status == 302:
        assert [(e.action, e.actor_label) for e in events] == [("signoff.reassigned", "staff")]
        assert SignOff.objects.get(dimension="pam").assigned_to == reviewers["pam"][1]
    else:
        assert events == []


def test_reassigning_to_an_owner_is_refused_beside_the_field(
    client, workflow, agent, staff, audit_since
):
    agent.owners.add(UserFactory(username="pam-owner", groups=["pam"]))
    workflow.submit(agent)
    client.force_login(staff)
    since = audit_since()
    body = {"reassign-dimension": "pam", "reassign-user": "pam-owner", "reassign-reason": "x"}
    response = client.post(reverse("agent-signoff-reassign", args=[agent.slug]), body)
    assert response.status_code == 400
    [error] = response.context["reassign_form"].errors["user"]
    assert error.startswith("pam-owner cannot decide it: Whoever owned the agent")
    assert since() == [] and SignOff.objects.get(dimension="pam").assigned_to is None


def test_the_reviewers_page_lists_pending_signoffs_and_who_they_wait_for(
    client, workflow, agent, reviewers, staff
):
    assign_perm("agents.review_pam", reviewers["pam"][0], agent)
    package = workflow.submit(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    client.force_login(staff)
    page = client.get(reverse("agent-reviewers", args=[agent.slug]))
    rows = {s.dimension: s for s in page.context["pending"]}
    assert [u.username for u in rows["pam"].waiting_for] == ["pam1"]
    assert rows["iam"].waiting_for == []
    assert rows["pam"].overdue_since is not None
    assert b"Takes the overdue PAM sign-off of this agent over" in page.content


def test_the_reviewers_page_marks_a_deactivated_reviewer(client, workflow, agent, reviewers, staff):
    pam1 = reviewers["pam"][0]
    assign_perm("agents.review_pam", pam1, agent)
    workflow.submit(agent)
    user_flags_set(pam1, actor=Actor.for_user(staff), source="admin", is_active=False)
    client.force_login(staff)
    page = parse(client.get(reverse("agent-reviewers", args=[agent.slug])).content)
    assigned = page.find("section", aria_labelledby="assigned-title").text()
    assert "pam1 Deactivated" in assigned and "iam1 Deactivated" not in assigned
    pending = [row.text() for row in page.find_all("tr", data_testid="pending-signoff")]
    assert any("pam1 (deactivated)" in row for row in pending)


def test_queue_and_package_page_say_on_whose_behalf(client, workflow, agent, reviewers):
    pam1, pam2 = reviewers["pam"]
    assign_perm("agents.review_pam", pam1, agent)
    assign_perm("agents.fallback_security", reviewers["security"][0], agent)
    package = workflow.submit(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    away(pam1, pam2, "pam", since=timedelta(hours=1), until=timedelta(days=2))
    client.force_login(pam2)
    dashboard = client.get(reverse("dashboard"))
    [queued] = [s for s in dashboard.context["queue"] if s.dimension == "pam"]
    assert queued.notes == ["on behalf of pam1"]
    client.force_login(reviewers["security"][0])
    dashboard = client.get(reverse("dashboard"))
    [queued] = dashboard.context["queue"]
    assert queued.notes[0].startswith("fallback: overdue since ")

    client.force_login(pam2)
    page = client.get(package.get_absolute_url())
    assert "on behalf of pam1" in page.content.decode()
    workflow.decide(package, "pam", pam2)
    page = client.get(package.get_absolute_url()).content.decode()
    assert 'data-testid="on-behalf-pam"' in page and "<strong>pam1</strong>" in page


def test_a_delegate_of_an_owner_is_offered_nothing_on_their_behalf(
    client, workflow, agent, owner, reviewers
):
    pam1, pam2 = reviewers["pam"]
    assign_perm("agents.review_pam", pam1, agent)
    agent.owners.add(pam1)
    package = workflow.submit(agent)
    away(pam1, pam2, "pam")
    client.force_login(pam2)
    dashboard = client.get(reverse("dashboard"))
    [queued] = [s for s in dashboard.context["queue"] if s.dimension == "pam"]
    assert queued.notes == []
    page = client.get(package.get_absolute_url())
    assert "on behalf of pam1" not in page.content.decode()
    assert [card["signoff"].dimension for card in page.context["my_forms"]] == []
