"""Rotating SECRET_KEY signs nobody out while the old key is in SECRET_KEY_FALLBACKS."""

import pytest
from django.urls import reverse

from tests.environment import read_under

OLD_KEY = "rotation-old-" + "o1d" * 20
NEW_KEY = "rotation-new-" + "n3w" * 20


def fallbacks_read_from(environment: dict[str, str]) -> list[str]:
    """Return SECRET_KEY_FALLBACKS as the settings read it from an environment."""
    return read_under(environment, "settings.SECRET_KEY_FALLBACKS", cleared="SECRET_KEY_FALLBACKS")


def test_the_fallbacks_are_read_as_a_comma_separated_list():
    listed = f" {OLD_KEY} , older-{OLD_KEY},"
    assert fallbacks_read_from({"SECRET_KEY_FALLBACKS": listed}) == [OLD_KEY, f"older-{OLD_KEY}"]
    assert fallbacks_read_from({}) == []


@pytest.mark.parametrize(("listed", "signed_in"), [(OLD_KEY, True), ("", False)])
def test_a_session_signed_under_the_old_key_holds_while_it_is_a_fallback(
    client, settings, owner, listed, signed_in
):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    client.force_login(owner)
    assert client.get(reverse("dashboard")).status_code == 200

    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = fallbacks_read_from({"SECRET_KEY_FALLBACKS": listed})
    response = client.get(reverse("dashboard"))
    if signed_in:
        assert response.status_code == 200
        assert response.context["user"] == owner
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_session_used_during_the_rotation_outlives_the_fallback(client, settings, owner):
    """docs/operations.md: a session used while the old key is a fallback is signed again
    with the new key, so emptying SECRET_KEY_FALLBACKS afterwards keeps it signed in."""
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    client.force_login(owner)
    assert client.get(reverse("dashboard")).status_code == 200

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert client.get(reverse("dashboard")).status_code == 200

    settings.SECRET_KEY_FALLBACKS = []
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["user"] == owner
