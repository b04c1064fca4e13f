"""Fixtures of the page tests: plain static storage, quick password hashing, a clean cache."""

import pytest
from django.core.cache import cache

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def pages_settings(settings):
    """Render `{% static %}` without a collected manifest, hash test passwords quickly,
    and start with an empty cache (the API's rate limits count there)."""
    settings.STORAGES = PLAIN_STATIC
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()
