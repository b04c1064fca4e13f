"""Every answer under /api/ is JSON in the one error shape, a server error included.

The server error is a real one: the table the agent list reads is renamed
inside the test's transaction (rolled back afterwards), so the real endpoint
fails in the database as it would on a broken deploy; no view is written for
the test and the product has no hook for it.
"""

import logging

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from config.handlers import AUTHZEN_PATHS
from runtime.urls import urlpatterns as authzen_routes
from tests.api.conftest import error_of
from tokens.models import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_agents_table(db):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE agents_agent RENAME TO agents_agent_away")


def test_a_server_error_on_the_api_is_json_and_tells_nothing(
    api, staff, broken_agents_table, caplog
):
    client = api(staff, Scope.AGENTS_READ)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/agents")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "agents_agent" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    # The cause is logged for the operators, not sent to the client.
    assert any("agents_agent" in str(record.exc_info[1]) for record in caplog.records)


def test_a_server_error_on_a_page_stays_an_html_page(staff, broken_agents_table):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = client.get("/agents/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/", "/api/v2/agents"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"


def test_a_request_django_refuses_is_json_on_the_api(client, settings):
    settings.ALLOWED_HOSTS = ["countersign.example.com"]
    response = client.get("/api/v1/agents", HTTP_HOST="evil.example.org")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "bad_request"


def test_a_server_error_on_the_decision_point_is_a_json_string(api, staff, caplog):
    client = api(staff, Scope.DECISIONS_EVALUATE)
    client.raise_request_exception = False
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tokens_apitoken RENAME TO tokens_apitoken_away")
    body = {
        "subject": {"type": "agent", "id": "support-assistant"},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": "kb-search"},
    }
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post("/access/v1/evaluation", body, format="json")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == "The server failed to answer; the error is logged."


def test_an_unknown_authzen_path_is_a_json_404(client):
    response = client.post("/access/v1/evaluate", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == "No such AuthZEN endpoint."


def test_the_authzen_routes_are_where_the_error_handlers_look_for_them():
    """config.handlers names the specification's paths; runtime.urls serves them."""
    for pattern in authzen_routes:
        assert reverse(pattern.name).startswith(AUTHZEN_PATHS), pattern.name
