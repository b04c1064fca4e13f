"""Sign in and out, and the lockout of a client address after repeated failed sign-ins."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"
STRANGER = "203.0.113.9"
VICTIM = "198.51.100.7"
PROXY = "10.0.0.2"
LOCKED = "Too many failed sign-in attempts from your network address"
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


def sign_in(client, username, password=PASSWORD, url=None, **meta):
    data = {"username": username, "password": password}
    return client.post(url or reverse("login"), data, **meta)


def fail(client, times, username="owner", **meta) -> list[int]:
    """Try a wrong password `times` times; return the answers' status codes."""
    return [sign_in(client, username, "wrong", **meta).status_code for _ in range(times)]


def assert_locked_page(response):
    """The lockout answers with the app's sign-in page and its reason, not a bare text."""
    assert response.status_code == 429
    html = response.content.decode()
    assert LOCKED in html and "<h1>Sign in</h1>" in html and 'name="password"' in html


def test_sign_in_and_out(client, owner):
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))
    response = sign_in(client, "owner")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_failures_from_one_address_lock_it_out(client, owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    answers = [sign_in(client, "owner", "wrong", REMOTE_ADDR=STRANGER) for _ in range(limit - 1)]
    assert all(r.status_code == 200 and "didn't match" in r.content.decode() for r in answers)
    assert_locked_page(sign_in(client, "owner", "wrong", REMOTE_ADDR=STRANGER))
    # Even the right password is refused while the lock lasts.
    assert_locked_page(sign_in(client, "owner", REMOTE_ADDR=STRANGER))
    assert "_auth_user_id" not in client.session


def test_a_password_spray_over_many_usernames_is_stopped(client, owner, other_owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    usernames = ["other-owner", "admin", "root", "alice", "bob", "carol"][:limit]
    answers = [sign_in(client, name, "Winter2026!", REMOTE_ADDR=STRANGER) for name in usernames]
    assert [r.status_code for r in answers] == [200] * (limit - 1) + [429]
    assert_locked_page(sign_in(client, "owner", REMOTE_ADDR=STRANGER))


def test_a_stranger_cannot_lock_out_someone_signing_in_elsewhere(client, owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, limit, REMOTE_ADDR=STRANGER)[-1] == 429
    assert sign_in(client, "owner", REMOTE_ADDR=VICTIM).status_code == 302


def test_a_success_leaves_the_addresss_failures_counted(client, owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, limit - 1, REMOTE_ADDR=STRANGER) == [200] * (limit - 1)
    assert sign_in(client, "owner", REMOTE_ADDR=STRANGER).status_code == 302
    client.post(reverse("logout"))
    assert_locked_page(sign_in(client, "other-owner", "wrong", REMOTE_ADDR=STRANGER))


def test_the_lockout_ends_after_the_cool_off(client, owner, settings):
    assert fail(client, settings.AXES_FAILURE_LIMIT, REMOTE_ADDR=STRANGER)[-1] == 429
    assert sign_in(client, "owner", REMOTE_ADDR=STRANGER).status_code == 429
    passed = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.filter(ip_address=STRANGER):
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - passed
        )
    assert sign_in(client, "owner", REMOTE_ADDR=STRANGER).status_code == 302


def test_the_admin_sign_in_counts_and_refuses_alike(client, staff, settings):
    admin_login = reverse("admin:login")
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, limit - 1, username="staff", REMOTE_ADDR=STRANGER) == [200] * (limit - 1)
    response = sign_in(client, "staff", "wrong", url=admin_login, REMOTE_ADDR=STRANGER)
    assert_locked_page(response)
    assert_locked_page(sign_in(client, "staff", url=admin_login, REMOTE_ADDR=STRANGER))
    assert "_auth_user_id" not in client.session


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, owner, settings):
    """A client rotating the header it writes itself still counts as its one address."""
    settings.TRUSTED_PROXY_COUNT = 0
    limit = settings.AXES_FAILURE_LIMIT
    answers = [
        sign_in(
            client, "owner", "wrong", REMOTE_ADDR=STRANGER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        ).status_code
        for n in range(limit)
    ]
    assert answers[-1] == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True).distinct()) == [STRANGER]


def test_behind_a_trusted_proxy_the_address_it_forwards_counts(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    limit = settings.AXES_FAILURE_LIMIT
    # Every request comes through the proxy: REMOTE_ADDR is the proxy's.
    assert fail(client, limit, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=STRANGER)[-1] == 429
    # The stranger claiming the victim's address: the proxy appends the real one.
    spoofed = f"{VICTIM}, {STRANGER}"
    response = sign_in(client, "owner", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=spoofed)
    assert_locked_page(response)
    # The victim, through the same proxy, is not locked out.
    response = sign_in(client, "owner", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=VICTIM)
    assert response.status_code == 302


def test_a_forwarded_address_that_is_no_address_is_a_plain_failure(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = sign_in(
        client, "owner", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="not-an-address"
    )
    assert response.status_code == 200 and "didn't match" in response.content.decode()


def test_signing_in_works_while_redis_is_down(client, owner, settings):
    with override_settings(CACHES=REDIS_DOWN):
        assert fail(client, 1, REMOTE_ADDR=STRANGER) == [200]
        response = sign_in(client, "owner", REMOTE_ADDR=VICTIM)
        assert response.status_code == 302
        assert client.get(reverse("dashboard")).status_code == 200
        client.post(reverse("logout"))
        # The lockout counts in the database, so it holds without Redis too.
        assert fail(client, settings.AXES_FAILURE_LIMIT - 1, REMOTE_ADDR=STRANGER)[-1] == 429
