"""The OpenAPI schema is the contract: schemathesis drives every operation in process.

It must find no server error and no response that breaks the schema, for
valid and invalid input alike. The number of examples is bounded so the run
stays well under two minutes.
"""

from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as dj_settings
from django.contrib.staticfiles import finders
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import ALL_SCOPES

pytestmark = pytest.mark.django_db

EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 8}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def keep_test_connection():
    """Keep the test's database connection open across WSGI requests, as Django's client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(workflow, agent, staff, make_token):
    """An approved agent with a second draft version, and a token that may do everything."""
    workflow.approve(agent)
    workflow.create(agent)
    _, secret = make_token(staff, *ALL_SCOPES)
    return secret


def fuzz(strategy, examples: int, headers: dict, label: str, exercised: set) -> None:
    """Call the operation with generated cases and validate each answer against the schema."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
        exercised.add((label, response.status_code))

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to make invalid (no body, no free parameter)
        # has no negative cases; its positive run covers it.
        pass


def test_every_operation_conforms_to_the_schema(seeded, agent, keep_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    headers = {"Authorization": f"Bearer {seeded}"}
    # The audit endpoints (export, verify) are another suite's; this one covers the rest.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if not op.path.startswith("/api/v1/audit")
    ]
    assert len(operations) >= 12
    exercised = set()
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {"slug": agent.slug} if "slug" in names else {}
        for mode, examples in EXAMPLES.items():
            for path_parameters in (fixed, {}) if fixed else ({},):
                strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)
                fuzz(strategy, examples, headers, operation.label, exercised)
    assert any(status < 300 for _, status in exercised)


def test_the_schema_and_the_manifest_schema_are_public(db):
    client = APIClient()
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/gate/check" in paths
    assert "bearerToken" in schema.json()["components"]["securitySchemes"]
    manifest = client.get("/api/v1/schema/manifest.json")
    assert manifest.status_code == 200
    assert manifest.json()["$schema"].startswith("https://json-schema.org/")


def test_the_docs_page_is_served_from_static_with_no_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"] == f"/{dj_settings.STATIC_URL.strip('/')}/docs/index.html"
    page = Path(finders.find("docs/index.html")).read_text()
    assert "swagger-ui-bundle.js" in page and "docs.js" in page
    assert "http://" not in page and "https://" not in page
    assert "/api/v1/schema/" in page
    for asset in ("docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "docs/docs.js"):
        assert finders.find(asset), asset
    served = client.get(response["Location"])
    assert served.status_code == 200
    assert b"swagger-ui-bundle.js" in b"".join(served.streaming_content)
