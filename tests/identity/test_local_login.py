"""An installation can turn local password sign-in off; single sign-on then stands alone."""

import pytest
from django.urls import reverse

from signoffs.models import Dimension

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"


def test_password_sign_in_is_refused_when_turned_off(client, settings, reviewers):
    settings.LOCAL_LOGIN = False
    user = reviewers[Dimension.IAM][0]

    answer = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})

    assert answer.status_code == 403
    assert "Password sign-in is turned off" in answer.content.decode()
    assert "_auth_user_id" not in client.session
    page = client.get(reverse("login")).content.decode()
    assert 'name="password"' not in page


def test_the_admin_refuses_passwords_too_when_turned_off(client, settings, staff):
    settings.LOCAL_LOGIN = False
    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_step_up_page_refuses_passwords_when_turned_off(client, settings, reviewers):
    client.force_login(reviewers[Dimension.IAM][0])
    settings.LOCAL_LOGIN = False
    answer = client.post(reverse("step-up"), {"password": PASSWORD, "next": "/"})
    assert answer.status_code == 400


def test_single_sign_on_stands_alone(client, settings, provider):
    settings.LOCAL_LOGIN = False
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Test IdP" in page and 'name="password"' not in page


def test_password_sign_in_works_as_before_by_default(client, reviewers):
    user = reviewers[Dimension.IAM][0]
    answer = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["countersign_authentication"]["method"] == "password"
