"""A username a person or a command types names its user in any case (config.usernames):
no two users differ only in case, so "PAM2" can only be pam2."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import get_perms

from agents.models import OWNERS_MAX
from agents.services import users_by_username
from approvals.comments import comment_create
from audit.actors import Actor
from config.errors import InvalidInput
from config.usernames import user_named, users_named
from signoffs.models import Absence, SignOff
from tests.factories import UserFactory
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"  # the factory's
PACKAGE = "/api/v1/agents/support-assistant/packages/1"
# "pam2" in other cases, and in full-width letters that NFKC makes "PAM2".
PAM2 = ["PAM2", "Pam2", "\uff30\uff21\uff2d\uff12"]


def _quiet(*args, **kwargs):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("typed", PAM2)
def test_user_named_finds_the_user_in_any_case_and_nobody_for_another_name(reviewers, typed):
    assert user_named(typed) == reviewers["pam"][1]
    assert user_named("pam3") is None


@pytest.mark.parametrize("typed", PAM2)
def test_staff_reassign_a_signoff_on_the_page_to_a_username_in_another_case(
    client, workflow, agent, reviewers, staff, audit_since, typed
):
    workflow.submit(agent)
    client.force_login(staff)
    since = audit_since()
    body = {"reassign-dimension": "pam", "reassign-user": typed, "reassign-reason": "Leave."}
    response = client.post(reverse("agent-signoff-reassign", args=[agent.slug]), body)
    assert response.status_code == 302
    assert SignOff.objects.get(dimension="pam").assigned_to == reviewers["pam"][1]
    assert [e.action for e in since()] == ["signoff.reassigned"]


def test_staff_assign_a_reviewer_on_the_page_by_a_username_in_another_case(
    client, staff, agent, reviewers
):
    client.force_login(staff)
    url = reverse("agent-reviewers", args=[agent.slug])
    response = client.post(url, {"permission": "review_iam", "user": "IAM2"})
    assert response.status_code == 302
    assert get_perms(reviewers["iam"][1], agent) == ["review_iam"]
    response = client.post(url, {"permission": "review_iam", "user": "IAM3"})
    assert response.context["form"].errors["user"] == ["No user 'IAM3'."]


def test_a_reviewer_names_a_delegate_and_staff_a_reviewer_through_the_api_in_another_case(
    api, reviewers, staff
):
    iam1, iam2 = reviewers["iam"]
    ends = (timezone.now() + timedelta(days=3)).isoformat()
    response = api(iam1).post(
        "/api/v1/absences",
        {"dimension": "iam", "delegate": "IAM2", "ends_at": ends},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["delegate"] == "iam2"
    response = api(staff).post(
        "/api/v1/absences",
        {"dimension": "pam", "reviewer": "Pam1", "delegate": "PAM2", "ends_at": ends},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert sorted(Absence.objects.values_list("reviewer__username", "delegate__username")) == [
        ("iam1", "iam2"),
        ("pam1", "pam2"),
    ]


def test_staff_reassign_a_signoff_through_the_api_to_a_username_in_another_case(
    api, workflow, agent, reviewers, staff
):
    workflow.submit(agent)
    response = api(staff).post(
        f"{PACKAGE}/signoffs/pam/reassign", {"user": "PAM2", "reason": "Leave."}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["assigned_to"] == "pam2"
    refused = api(staff).post(
        f"{PACKAGE}/signoffs/pam/reassign", {"user": "PAM3", "reason": "x"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"user": ["No user 'PAM3'."]}


def test_the_token_command_names_its_user_in_any_case(reviewers):
    pam2 = reviewers["pam"][1]
    for options in ([], ["--service-account"]):
        _quiet(
            "token",
            "create",
            "--user",
            "PAM2",
            *options,
            "--name",
            f"ci{len(options)}",
            "--scope",
            "agents:read",
        )
    assert sorted(ApiToken.objects.values_list("user__username", "name")) == [
        ("pam2", "ci0"),
        ("pam2", "ci1"),
    ]
    assert _quiet("token", "list", "--user", "Pam2").count("\tpam2\t") == 2
    with pytest.raises(CommandError, match="No user 'PAM3'."):
        _quiet("token", "list", "--user", "PAM3")
    assert pam2.api_tokens.count() == 2


def test_the_groups_command_names_its_user_in_any_case(reviewers):
    assert _quiet("groups", "add", "PAM2", "security") == "pam2\tpam, security\n"
    assert _quiet("groups", "list", "Pam2", "IAM1") == "iam1\tiam\npam2\tpam, security\n"
    with pytest.raises(CommandError, match="No user 'PAM3'."):
        _quiet("groups", "set", "PAM3")


def test_changepassword_names_its_user_in_any_case(monkeypatch, reviewers):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-long-unusual-passphrase-9")
    _quiet("changepassword", "PAM2")
    pam2 = reviewers["pam"][1]
    pam2.refresh_from_db()
    assert pam2.check_password("a-long-unusual-passphrase-9")


def test_owners_are_named_in_any_case_each_once(owner, reviewers):
    assert users_by_username(["OWNER", "owner", "Pam2"]) == [owner, reviewers["pam"][1]]
    with pytest.raises(InvalidInput) as refused:
        users_by_username(["OWNER", "ghost"])
    assert refused.value.fields == {"owners": ["No user 'ghost'."]}


@pytest.mark.parametrize("count", [1, 50, OWNERS_MAX])
def test_owners_are_named_in_one_query_however_many(django_assert_num_queries, count):
    users = [UserFactory(username=f"named{n}") for n in range(count)]
    typed = [user.username.upper() for user in users]
    with django_assert_num_queries(1):
        assert users_by_username(typed) == users


def test_more_owners_than_the_most_are_refused_before_any_lookup(django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(InvalidInput) as refused:
        users_by_username([f"named{n}" for n in range(OWNERS_MAX + 1)])
    problem = f"Name at most {OWNERS_MAX} owners ({OWNERS_MAX + 1} given)."
    assert refused.value.fields == {"owners": [problem]}


def test_users_named_answers_each_name_as_user_named_does(reviewers):
    names = ["pam2", *PAM2, "pam3", "IAM1"]
    assert users_named(names) == {name: user_named(name) for name in names}
    assert users_named([]) == {}


def test_a_mention_names_its_user_in_any_case_once(workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    comment = comment_create(
        actor=Actor.for_user(owner), package=package, body="@IAM1 and @iam1, see this."
    )
    assert list(comment.mentions.all()) == [reviewers["iam"][0]]


def test_a_person_signs_in_with_their_username_in_any_case(client):
    dana = UserFactory(username="dana", groups=["product-owner"])
    response = client.post(reverse("login"), {"username": "DANA", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(dana.pk)
    client.logout()
    client.post(reverse("login"), {"username": "DANA", "password": "not-the-password"})
    assert "_auth_user_id" not in client.session
