"""Fixtures of the page tests: plain static storage, a clean rate-limit cache, signed-in clients."""

import pytest
from django.core.cache import cache

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def pages_settings(settings):
    """Render `{% static %}` without a collected manifest, hash test passwords quickly,
    and start with no sign-in failures."""
    settings.STORAGES = PLAIN_STATIC
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login(client):
    """Return a function signing the test client in as a user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
