"""The app's own 404, 403 and 500 pages; the API keeps its JSON errors."""

import pytest
from django.db import connection
from django.template import loader
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from config.urls import urlpatterns as site_urls


def boom(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("boom/", boom), *site_urls]

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_the_apps_404(client, owner, settings):
    settings.DEBUG = False
    client.force_login(owner)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "Page not found" in html


def test_signed_in_the_404_keeps_the_sites_navigation(client, owner, settings):
    settings.DEBUG = False
    client.force_login(owner)
    html = client.get("/agents/no-such-agent/").content.decode()
    assert 'data-testid="error-page"' in html and "Page not found" in html
    assert '<nav aria-label="Main">' in html and "Signed in as <strong>owner</strong>" in html
    assert '<link rel="icon" href="/static/favicon.svg"' in html


def test_a_refused_page_is_the_apps_403(client, owner, settings):
    settings.DEBUG = False
    client.force_login(owner)
    response = client.get(reverse("audit-export-csv"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "You may not open this page" in html


@pytest.mark.urls(__name__)
def test_a_crash_is_the_apps_500(client, owner, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    client.force_login(owner)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "Something went wrong" in html


def test_the_500_page_renders_without_a_request_or_the_database():
    with CaptureQueriesContext(connection) as queries:
        html = loader.get_template("500.html").render()
    assert "Something went wrong" in html and len(queries) == 0
    assert '<link rel="icon"' in html


def test_the_api_keeps_its_json_errors(client, owner, settings):
    settings.DEBUG = False
    client.force_login(owner)
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_form_without_its_csrf_token_is_the_apps_403(settings):
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "owner", "password": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "This form could not be sent" in html
    assert "<style" not in html
