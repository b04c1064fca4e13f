"""Fixtures of the page tests: plain static storage and a clean cache."""

import pytest
from django.core.cache import cache

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def pages_settings(settings):
    """Render `{% static %}` without a collected manifest and start with an empty cache
    (the API's rate limits count there)."""
    settings.STORAGES = PLAIN_STATIC
    cache.clear()
    yield
    cache.clear()
