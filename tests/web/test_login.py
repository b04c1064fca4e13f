"""Sign in and out, and the limit on failed sign-in attempts."""

import pytest
from django.urls import reverse

from web.views.login import LOGIN_MAX_FAILURES

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"


def test_sign_in_and_out(client, owner):
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_repeated_failures_lock_the_username_out(client, owner, other_owner):
    for _ in range(LOGIN_MAX_FAILURES):
        response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    # Even the right password is refused while the lock lasts.
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another username from the same address is not locked out by these failures.
    response = client.post(reverse("login"), {"username": "other-owner", "password": PASSWORD})
    assert response.status_code == 302


def test_a_success_clears_the_failures(client, owner):
    for _ in range(LOGIN_MAX_FAILURES - 1):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert (
        client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code
        == 302
    )
    client.post(reverse("logout"))
    for _ in range(LOGIN_MAX_FAILURES - 1):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert (
        client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code
        == 302
    )


def test_the_admin_sign_in_is_limited_too(client, staff):
    url = reverse("admin:login")
    for _ in range(LOGIN_MAX_FAILURES):
        response = client.post(url, {"username": "staff", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(url, {"username": "staff", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
