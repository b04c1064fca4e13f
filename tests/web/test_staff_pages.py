"""Staff administer groups, teams and per-agent reviewers in the app; everyone else is refused.

Every change is one audit event with the page as its source; a refused or invalid
request changes nothing.
"""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import get_perms

from agents.membership import Source, reviewer_assign
from audit.actors import Actor
from tests.factories import AgentFactory, TeamFactory, UserFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "owner", "other_owner", "iam", "auditor", "staff"]


@pytest.fixture
def people(owner, other_owner, reviewers, staff):
    return {
        "anonymous": None,
        "owner": owner,
        "other_owner": other_owner,
        "iam": reviewers["iam"][0],
        "auditor": UserFactory(username="auditor", groups=["compliance-officer"]),
        "staff": staff,
    }


@pytest.fixture
def scene(agent, reviewers):
    """The agent of `owner` (other_owner sees none of it) and a team to join."""
    TeamFactory(slug="care")
    AgentFactory(slug="hr-policy-copilot", team="people", owners=[])
    return {"agent": agent, "reviewers": reviewers}


def _users(scene):
    return ("get", reverse("staff-users"), None)


def _user_edit_page(scene):
    return ("get", reverse("staff-user-edit", args=[scene["reviewers"]["iam"][1].pk]), None)


def _user_edit(scene):
    member = scene["reviewers"]["iam"][1]
    body = {
        "groups": [Group.objects.get(name="iam").pk, Group.objects.get(name="pam").pk],
        "teams": [TeamFactory._meta.model.objects.get(slug="care").pk],
    }
    return ("post", reverse("staff-user-edit", args=[member.pk]), body)


def _reviewers_page(scene):
    return ("get", reverse("agent-reviewers", args=[scene["agent"].slug]), None)


def _assign(scene):
    body = {"permission": "review_iam", "user": "iam2"}
    return ("post", reverse("agent-reviewers", args=[scene["agent"].slug]), body)


def _unassign(scene):
    iam2 = scene["reviewers"]["iam"][1]
    reviewer_assign(
        actor=Actor.system("tests"),
        agent=scene["agent"],
        user=iam2,
        permission="review_iam",
        source=Source.COMMAND,
    )
    body = {"permission": "review_iam", "user": iam2.pk}
    return ("post", reverse("agent-reviewer-unassign", args=[scene["agent"].slug]), body)


# page -> (setup, audit actions on success, {role: status}); anonymous is sent to sign in.
MATRIX = {
    "user_list": (
        _users,
        [],
        {"owner": 403, "other_owner": 403, "iam": 403, "auditor": 403, "staff": 200},
    ),
    "user_edit_page": (
        _user_edit_page,
        [],
        {"owner": 403, "other_owner": 403, "iam": 403, "auditor": 403, "staff": 200},
    ),
    "user_edit": (
        _user_edit,
        ["user.groups_changed", "user.teams_changed"],
        {"owner": 403, "other_owner": 403, "iam": 403, "auditor": 403, "staff": 302},
    ),
    # An agent outside a product owner's scope does not exist for them (404).
    "agent_reviewers_page": (
        _reviewers_page,
        [],
        {"owner": 403, "other_owner": 404, "iam": 403, "auditor": 403, "staff": 200},
    ),
    "reviewer_assign": (
        _assign,
        ["agent.reviewer_assigned"],
        {"owner": 403, "other_owner": 404, "iam": 403, "auditor": 403, "staff": 302},
    ),
    "reviewer_unassign": (
        _unassign,
        ["agent.reviewer_unassigned"],
        {"owner": 403, "other_owner": 404, "iam": 403, "auditor": 403, "staff": 302},
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(MATRIX))
def test_staff_pages_role_matrix(client, people, scene, audit_since, page, role):
    setup, actions, expected = MATRIX[page]
    method, url, body = setup(scene)
    if people[role] is not None:
        client.force_login(people[role])
    since = audit_since()
    response = getattr(client, method)(url, body or {})
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        assert since() == []
        return
    assert response.status_code == expected[role]
    events = since()
    if response.status_code == 302:
        assert [e.action for e in events] == actions
        assert all(e.actor_label == "staff" and e.data["source"] == "page" for e in events)
    else:
        assert events == []


def test_staff_change_a_users_groups_and_teams(client, staff, reviewers, audit_since):
    member = reviewers["pam"][0]
    team = TeamFactory(slug="care")
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    page = client.get(url)
    assert page.status_code == 200
    since = audit_since()
    iam, pam = Group.objects.get(name="iam"), Group.objects.get(name="pam")
    # The page sends back what it showed: PAM cleared and IAM ticked against it.
    shown = {"groups_shown": [pam.pk], "teams_shown": []}
    response = client.post(url, {**shown, "groups": [iam.pk], "teams": [team.pk]})
    assert response.status_code == 302
    assert sorted(member.groups.values_list("name", flat=True)) == ["iam"]
    assert list(member.teams.values_list("slug", flat=True)) == ["care"]
    groups, teams = since()
    assert (groups.action, groups.target_id) == ("user.groups_changed", str(member.pk))
    assert groups.data == {"user": "pam1", "added": ["iam"], "removed": ["pam"], "source": "page"}
    assert (groups.before, groups.after) == ({"groups": ["pam"]}, {"groups": ["iam"]})
    assert teams.data == {"user": "pam1", "added": ["care"], "removed": [], "source": "page"}
    # The list shows the new membership; posting the same again records nothing.
    listing = client.get(reverse("staff-users"), {"q": "pam1"}).content.decode()
    assert "pam1" in listing and ">care<" in listing and "pam2" not in listing
    since = audit_since()
    shown = {"groups_shown": [iam.pk], "teams_shown": [team.pk]}
    assert client.post(url, {**shown, "groups": [iam.pk], "teams": [team.pk]}).status_code == 302
    assert since() == []


def test_a_users_page_names_the_groups_in_words_and_keeps_their_values(
    client, staff, owner, reviewers
):
    member = reviewers["pam"][0]
    legacy = Group.objects.create(name="legacy-auditors")
    client.force_login(staff)
    response = client.get(reverse("staff-user-edit", args=[member.pk]))
    boxes = {
        node.attrs["value"]: node
        for node in parse(response.content).find_all("input", type="checkbox", name="groups")
    }
    labels = {
        value: parse(response.content).find("label", **{"for": box.attrs["id"]}).text()
        for value, box in boxes.items()
    }
    pam = Group.objects.get(name="pam")
    assert labels[str(pam.pk)] == "PAM reviewers"
    assert "checked" in boxes[str(pam.pk)].attrs
    assert labels[str(Group.objects.get(name="product-owner").pk)] == "Product owners"
    assert labels[str(legacy.pk)] == "legacy-auditors"
    assert set(labels.values()) >= {
        "IAM reviewers",
        "Security reviewers",
        "Compliance reviewers",
    }
    assert not any("(" in text for text in labels.values())


def test_groups_are_listed_in_the_vocabularys_order_on_every_page(client, reviewers):
    # Created out of the vocabulary's order, and out of the alphabet's and the labels'.
    member = UserFactory(
        username="many",
        is_staff=True,
        groups=["security", "legacy-auditors", "iam", "compliance-officer", "product-owner"],
    )
    in_words = [
        "Product owners",
        "IAM reviewers",
        "Security reviewers",
        "Compliance officers",
        "legacy-auditors",
    ]
    client.force_login(member)

    listing = parse(client.get(reverse("staff-users"), {"q": "many"}).content)
    row = next(tr for tr in listing.find_all("tr") if "many" in tr.text())
    assert [badge.text() for badge in row.find_all(class_="badge")] == in_words
    assert listing.find("span", class_="roles").text() == f"({', '.join(in_words)})"

    page = parse(client.get(reverse("staff-user-edit", args=[member.pk])).content)
    boxes = [box.text() for box in page.find_all("label") if box.find_all("input", name="groups")]
    assert boxes == [
        "Product owners",
        "IAM reviewers",
        "PAM reviewers",
        "Security reviewers",
        "Compliance reviewers",
        "Compliance officers",
        "legacy-auditors",
    ]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("\x00", "Null characters are not allowed."),
        ("p" * 151, "Ensure this value has at most 150 characters (it has 151)."),
    ],
)
def test_a_user_search_that_is_not_a_username_is_refused_beside_the_field(
    client, staff, reviewers, audit_since, q, message
):
    client.force_login(staff)
    since = audit_since()
    response = client.get(reverse("staff-users"), {"q": q})
    assert response.status_code == 400
    assert response.context["form"].errors == {"q": [message]}
    page = response.content.decode()
    assert 'class="field has-error' in page and message in page
    # The search is ignored: every user is listed, as without one.
    assert "pam1" in page and "iam1" in page
    assert since() == []


def test_an_unknown_group_is_refused_beside_the_field(client, staff, reviewers, audit_since):
    member = reviewers["pam"][0]
    client.force_login(staff)
    since = audit_since()
    response = client.post(
        reverse("staff-user-edit", args=[member.pk]), {"groups": [987654], "teams": []}
    )
    assert response.status_code == 400
    assert "groups" in response.context["form"].errors
    assert list(member.groups.values_list("name", flat=True)) == ["pam"]
    assert since() == []


def test_assigning_a_reviewer_outside_the_dimensions_group_names_the_field(
    client, staff, agent, reviewers, owner, audit_since
):
    client.force_login(staff)
    url = reverse("agent-reviewers", args=[agent.slug])
    since = audit_since()
    response = client.post(url, {"permission": "review_iam", "user": "pam1"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["user"] == [
        "pam1 is not one of the IAM reviewers; only they review the dimension."
    ]
    assert "not one of the IAM reviewers" in response.content.decode()
    response = client.post(url, {"permission": "review_iam", "user": "ghost"})
    assert response.context["form"].errors["user"] == ["No user 'ghost'."]
    response = client.post(url, {"permission": "review_root", "user": "iam1"})
    assert "permission" in response.context["form"].errors
    # An owner who is in the group still never reviews their own agent.
    owner.groups.add(Group.objects.get(name="iam"))
    response = client.post(url, {"permission": "review_iam", "user": "owner"})
    assert response.context["form"].errors["user"] == [
        "owner owns this agent; owners never sign it off."
    ]
    assert since() == []
    assert get_perms(reviewers["pam"][0], agent) == []


def test_granting_the_kill_switch_to_someone_who_cannot_see_the_agent_names_the_field(
    client, staff, agent, other_owner, audit_since
):
    client.force_login(staff)
    url = reverse("agent-reviewers", args=[agent.slug])
    since = audit_since()
    response = client.post(url, {"permission": "suspend_agent", "user": "other-owner"})
    assert response.status_code == 400
    [message] = response.context["form"].errors["user"]
    assert message.startswith("other-owner cannot see support-assistant")
    assert "add them to the agent's team 'customer-care'" in message
    assert "other-owner cannot see support-assistant" in response.content.decode()
    assert since() == []
    assert get_perms(other_owner, agent) == []


def test_a_refused_unassignment_says_why_and_changes_nothing(
    client, staff, agent, reviewers, audit_since
):
    iam2 = reviewers["iam"][1]
    reviewer_assign(
        actor=Actor.system("tests"),
        agent=agent,
        user=iam2,
        permission="review_iam",
        source=Source.COMMAND,
    )
    gone = UserFactory(username="gone")
    gone_pk = gone.pk
    gone.delete()
    client.force_login(staff)
    url = reverse("agent-reviewer-unassign", args=[agent.slug])
    since = audit_since()

    # The user was deleted since the page was shown.
    response = client.post(url, {"permission": "review_iam", "user": gone_pk})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was unassigned: this user no longer exists." in page
    response = client.post(url, {"permission": "review_root", "user": iam2.pk})
    assert response.status_code == 400
    assert "Nothing was unassigned: review_root is not an assignment." in (
        response.content.decode()
    )
    assert since() == []
    assert get_perms(iam2, agent) == ["review_iam"]


def test_an_assignment_decides_who_reviews_and_shows_on_the_agent_page(
    client, staff, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    iam1, iam2 = reviewers["iam"]
    client.force_login(staff)
    response = client.post(
        reverse("agent-reviewers", args=[agent.slug]), {"permission": "review_iam", "user": "iam2"}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("agent-reviewers", args=[agent.slug]),
        {"permission": "suspend_agent", "user": "iam1"},
    )
    assert response.status_code == 302
    detail = client.get(agent.get_absolute_url()).content.decode()
    assert 'iam2 <span class="small muted">(assigned)</span>' in detail
    assert "security and PAM reviewers, staff, iam1" in detail
    assert reverse("agent-reviewers", args=[agent.slug]) in detail
    # The timeline names the assignment in words.
    assert "assigned iam2 to support-assistant (May decide the IAM sign-off" in detail
    # Only the assigned reviewer may decide the dimension now; iam1 may suspend.
    decide = reverse("package-decide", args=[agent.slug, package.version, "iam"])
    client.force_login(iam1)
    assert (
        reverse("agent-reviewers", args=[agent.slug])
        not in client.get(agent.get_absolute_url()).content.decode()
    )
    response = client.post(decide, {"iam-verdict": "reject", "iam-comment": "No."})
    assert response.status_code == 403 and b"not_assigned" in response.content
    assert client.get(reverse("agent-suspend", args=[agent.slug])).status_code == 200
    # Revoking restores the group's right.
    client.force_login(staff)
    response = client.post(
        reverse("agent-reviewer-unassign", args=[agent.slug]),
        {"permission": "review_iam", "user": iam2.pk},
    )
    assert response.status_code == 302
    client.force_login(iam1)
    response = client.post(decide, {"iam-verdict": "reject", "iam-comment": "No."})
    assert response.status_code == 302


def test_the_user_list_queries_do_not_grow_with_rows(client, staff):
    client.force_login(staff)
    url = reverse("staff-users")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    UserFactory(username="u-0", groups=["iam"])
    small = count()
    team = TeamFactory(slug="many")
    for n in range(1, 12):
        user = UserFactory(username=f"u-{n}", groups=["iam", "pam"])
        team.members.add(user)
    assert count() == small
