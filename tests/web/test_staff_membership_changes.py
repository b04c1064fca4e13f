"""A user's page applies only the groups and teams the person ticked or cleared on it.

A change someone else committed after the page was opened (another staff member,
a sign-in through the identity provider) stands: the page sends back what it
showed, and the save adds and removes only what differs from that, through the
audited services, against the membership as it stands under the user's lock.
"""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from agents.membership import Source, user_groups_change, user_teams_change
from audit.actors import Actor
from tests.concurrency import raced
from tests.factories import TeamFactory, UserFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db

ELSEWHERE = Actor.system("elsewhere")


def as_shown(response) -> dict[str, list[str]]:
    """Return the membership form's data as the page shows it: hidden inputs, ticked boxes."""
    form = parse(response.content).find("form", aria_labelledby="membership-title")
    data: dict[str, list[str]] = {}
    for node in form.find_all("input"):
        kind = node.attrs.get("type")
        if node.attrs["name"] == "csrfmiddlewaretoken":
            continue
        if kind == "hidden" or (kind == "checkbox" and "checked" in node.attrs):
            data.setdefault(node.attrs["name"], []).append(node.attrs["value"])
    return data


def tick(data: dict, field: str, *items) -> dict:
    return {**data, field: [*data.get(field, []), *(str(item.pk) for item in items)]}


def clear(data: dict, field: str, *items) -> dict:
    gone = {str(item.pk) for item in items}
    return {**data, field: [value for value in data.get(field, []) if value not in gone]}


def group(name: str) -> Group:
    return Group.objects.get_or_create(name=name)[0]


@pytest.fixture
def member():
    """pam1's like: in the PAM and compliance groups and the care team."""
    care = TeamFactory(slug="care")
    for slug in ("ops", "people"):
        TeamFactory(slug=slug)
    user = UserFactory(username="dana", groups=["pam", "compliance"])
    care.members.add(user)
    return user


def names(member) -> tuple[list[str], list[str]]:
    return (
        sorted(member.groups.values_list("name", flat=True)),
        sorted(member.teams.values_list("slug", flat=True)),
    )


def test_changes_committed_after_the_page_opened_survive_the_save(
    client, staff, member, audit_since
):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    assert sorted(shown["groups"]) == sorted(shown["groups_shown"])
    assert len(shown["groups_shown"]) == 2 and len(shown["teams_shown"]) == 1
    # Meanwhile another staff member takes dana out of compliance and the care team and
    # puts her into security and the ops team.
    user_groups_change(
        member, actor=ELSEWHERE, source=Source.COMMAND, add=["security"], remove=["compliance"]
    )
    user_teams_change(member, actor=ELSEWHERE, source=Source.COMMAND, add=["ops"], remove=["care"])
    since = audit_since()

    # The person ticks IAM and the people team and clears PAM, on the page as it was shown.
    data = tick(shown, "groups", group("iam"))
    data = clear(data, "groups", group("pam"))
    data = tick(data, "teams", TeamFactory(slug="people"))
    response = client.post(url, data)

    assert response.status_code == 302
    assert names(member) == (["iam", "security"], ["ops", "people"])
    groups, teams = since()
    assert (groups.action, groups.actor_label, groups.target_id) == (
        "user.groups_changed",
        "staff",
        str(member.pk),
    )
    assert (groups.before, groups.after) == (
        {"groups": ["pam", "security"]},
        {"groups": ["iam", "security"]},
    )
    assert groups.data == {"user": "dana", "added": ["iam"], "removed": ["pam"], "source": "page"}
    assert (teams.action, teams.actor_label) == ("user.teams_changed", "staff")
    assert (teams.before, teams.after) == ({"teams": ["ops"]}, {"teams": ["ops", "people"]})
    assert teams.data == {"user": "dana", "added": ["people"], "removed": [], "source": "page"}


def test_saving_the_page_as_shown_puts_nothing_back(client, staff, member, audit_since):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    user_groups_change(member, actor=ELSEWHERE, source=Source.OIDC, remove=["compliance"])
    user_teams_change(member, actor=ELSEWHERE, source=Source.COMMAND, remove=["care"])
    since = audit_since()

    response = client.post(url, shown, follow=True)

    assert "dana: nothing changed." in response.content.decode()
    assert names(member) == (["pam"], [])
    assert since() == []


def test_a_box_cleared_that_someone_else_cleared_already_changes_nothing(
    client, staff, member, audit_since
):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    user_groups_change(member, actor=ELSEWHERE, source=Source.COMMAND, remove=["pam"])
    since = audit_since()

    assert client.post(url, clear(shown, "groups", group("pam"))).status_code == 302

    assert names(member) == (["compliance"], ["care"])
    assert since() == []


def test_a_refused_save_keeps_what_the_page_first_showed(client, staff, member, audit_since):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    user_groups_change(member, actor=ELSEWHERE, source=Source.COMMAND, add=["security"])
    since = audit_since()

    # A group that no longer exists is refused beside the field; the page shown again
    # still says what the person first saw, so their next save is measured against it.
    data = clear(shown, "groups", group("pam"))
    refused = client.post(url, {**data, "groups": [*data["groups"], "987654"]})
    assert refused.status_code == 400
    assert "groups" in refused.context["form"].errors
    again = as_shown(refused)
    assert sorted(again["groups_shown"]) == sorted(shown["groups_shown"])
    assert again["teams_shown"] == shown["teams_shown"]
    assert since() == []

    assert client.post(url, clear(again, "groups", group("pam"))).status_code == 302
    assert names(member) == (["compliance", "security"], ["care"])
    (event,) = since()
    assert event.data["removed"] == ["pam"] and event.data["added"] == []


@pytest.mark.parametrize("tampered", [["x"], ["\x00"], ["1.5"]])
def test_a_page_that_was_not_the_one_shown_is_refused(client, staff, member, audit_since, tampered):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    since = audit_since()

    response = client.post(url, {**clear(shown, "groups", group("pam")), "groups_shown": tampered})

    assert response.status_code == 400
    assert "The page sent back is not the one shown: reload it." in response.content.decode()
    assert names(member) == (["compliance", "pam"], ["care"])
    assert since() == []


def test_ids_of_no_row_shown_are_ignored(client, staff, member, audit_since):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    shown = as_shown(client.get(url))
    since = audit_since()
    far = [str(2**31), str(2**63), "-1"]
    data = {**shown, "groups_shown": [*shown["groups_shown"], *far], "teams_shown": far}

    assert client.post(url, data).status_code == 302

    assert names(member) == (["compliance", "pam"], ["care"])
    assert since() == []


@pytest.mark.django_db(transaction=True)
def test_a_change_committing_while_the_save_runs_stands(client, staff, member):
    client.force_login(staff)
    url = reverse("staff-user-edit", args=[member.pk])
    data = tick(as_shown(client.get(url)), "groups", group("iam"))
    posted = []

    def save():
        posted.append(client.post(url, data))

    errors = raced(
        lambda: user_groups_change(
            member, actor=ELSEWHERE, source=Source.OIDC, remove=["compliance"]
        ),
        save,
    )

    assert not errors, errors
    assert posted[0].status_code == 302
    assert names(member) == (["iam", "pam"], ["care"])
