"""The pages name, among those granted an agent's kill switch, only those who may pull it now;
the reviewers page keeps the others (grants no change through the services withdrew),
marked, for staff to revoke."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from agents.membership import Source, reviewer_assign, team_members_change
from agents.permissions import SUSPEND_PERMISSION, can_suspend
from audit.actors import Actor
from tests.factories import UserFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


@pytest.fixture
def holders(agent, reviewers):
    """Four holders of the agent's kill switch: a teammate, a reviewer, one taken off the
    agent's team since, one deactivated since, those two beneath the services.

    Through the services either change withdraws the grant (agents.grants); a grant made
    before they did, or a change made in SQL, leaves one the pages mark."""
    people = {
        name: UserFactory(username=name, groups=["product-owner"])
        for name in ("teammate", "leaver", "gone")
    }
    team_members_change(
        actor=SYSTEM, team=agent.team, source=Source.COMMAND, add=list(people.values())
    )
    people["iam1"] = reviewers["iam"][0]
    for user in people.values():
        reviewer_assign(
            actor=SYSTEM,
            agent=agent,
            user=user,
            permission=SUSPEND_PERMISSION,
            source=Source.COMMAND,
        )
    agent.team.members.remove(people["leaver"])
    get_user_model().objects.filter(pk=people["gone"].pk).update(is_active=False)
    return {name: get_user_model().objects.get(pk=u.pk) for name, u in people.items()}


def test_the_agent_page_names_only_the_holders_who_may_pull_it_now(client, agent, owner, holders):
    client.force_login(owner)
    response = client.get(agent.get_absolute_url())
    listed = [user.username for user in response.context["suspenders"]]
    assert listed == ["iam1", "teammate"]
    facts = parse(response.content).find("dl", data_testid="agent-reviewers").text()
    assert "Kill switch security and PAM reviewers, staff, iam1, teammate (assigned)" in facts
    # The page agrees with the rule the service enforces.
    for name, user in holders.items():
        assert (name in listed) == bool(can_suspend(user, agent)), name


def test_the_reviewers_page_marks_the_holders_who_cannot_use_it(client, agent, staff, holders):
    client.force_login(staff)
    page = parse(client.get(reverse("agent-reviewers", args=[agent.slug])).content)
    assigned = page.find("section", aria_labelledby="assigned-title")
    forms = {
        form.find("span", class_="mono").text(): form
        for form in assigned.find_all("form")
        if form.find("input", name="permission").attrs["value"] == SUSPEND_PERMISSION
    }
    assert sorted(forms) == ["gone", "iam1", "leaver", "teammate"]  # each can be revoked

    def badges(name):
        return [badge.text() for badge in forms[name].find_all("span", class_="badge")]

    assert badges("leaver") == ["Cannot see the agent"]
    assert badges("gone") == ["Deactivated"]
    assert badges("teammate") == badges("iam1") == []
