"""The OpenAPI schema is the contract: schemathesis drives every operation in process.

Every operation the schema lists (whatever the apps add) is called with valid
and invalid input, and every answer goes through every check schemathesis
has: no server error, status codes, content types, headers and bodies as
declared, valid data accepted, invalid data refused, auth not ignored. Each is
also asked once for a media type no operation answers in, which is a 406 where
the schema says so and answered as usual where it does not. The number of
examples is bounded so the run stays under two minutes.
"""

import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.templatetags.static import static
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks

from tests.conftest import ALL_SCOPES

pytestmark = pytest.mark.django_db

EXAMPLES = {GenerationMode.POSITIVE: 16, GenerationMode.NEGATIVE: 6}
UNACCEPTABLE = {"Accept": "application/xml"}
# A value each path converter takes (a token prefix has a form of its own).
PATH_VALUES = {"prefix": "cs_00000000"}

# What an OpenAPI schema cannot say. A request it calls valid may still be refused for
# the state it meets (a key used before), a rule across fields or against the clock,
# or a document with a schema of its own; and the gate answers invalid input with a
# deny rather than a 4xx, by its contract. Each such answer is named here, by
# operation, status and error code, and by nothing broader.
REFUSED_BEYOND_THE_SCHEMA = [
    # Any operation taking an Idempotency-Key: the key was used with another request.
    ("*", 422, "idempotency_key_reused", r"Idempotency-Key"),
    # The manifest has its own JSON Schema (schema/manifest.json) and rules across fields.
    ("POST /api/v1/agents/{slug}/packages", 400, "invalid_manifest", r"manifest(\..+)?"),
    # A time ahead of the server's clock.
    ("POST /api/v1/agents/{slug}/observations", 400, "invalid", r"items\[\d+\]\.seen_at"),
    # A time range that ends at or before it starts.
    *(
        (f"GET /api/v1/audit/{path}", 400, "invalid", r"until")
        for path in ("events", "export.csv", "export.jsonl")
    ),
    # Owners who are not users.
    ("POST /api/v1/agents", 400, "unknown_owner", r"owners"),
    ("PATCH /api/v1/agents/{slug}", 400, "unknown_owner", r"owners"),
    # Teams that do not exist.
    ("POST /api/v1/agents", 400, "unknown_team", r"team"),
    ("PATCH /api/v1/agents/{slug}", 400, "unknown_team", r"team"),
    # A comment names an entry, comment or decision of the version, and people who exist.
    (
        "POST /api/v1/agents/{slug}/packages/{version}/comments",
        400,
        "invalid",
        r"entry|parent|decision",
    ),
    ("POST /api/v1/agents/{slug}/packages/{version}/comments", 400, "invalid_mention", r"body"),
    # An absence names users who exist, reviewers of its dimension, and a window ahead.
    ("POST /api/v1/absences", 400, "unknown_user", r"delegate|reviewer"),
    ("POST /api/v1/absences", 400, "not_reviewer", r"dimension|delegate"),
    ("POST /api/v1/absences", 400, "self_delegate", r"delegate"),
    ("POST /api/v1/absences", 400, "inactive_user", r"delegate"),
    ("POST /api/v1/absences", 400, "invalid", r"ends_at"),
    # A sign-off is reassigned to a user who exists and may decide it.
    *(
        (
            "POST /api/v1/agents/{slug}/packages/{version}/signoffs/{dimension}/reassign",
            400,
            code,
            r"user",
        )
        for code in (
            "unknown_user",
            "not_reviewer",
            "self_review",
            "owner_review",
            "already_decided",
            "other_dimension",
        )
    ),
]
GATE_DENIES_INVALID_INPUT = {"invalid_request", "invalid_manifest", "unknown_agent"}


def error_of(response) -> dict:
    try:
        return response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return {}


def refused_beyond_the_schema(case, response) -> bool:
    error = error_of(response)
    return any(
        label in ("*", case.operation.label)
        and status == response.status_code
        and error.get("code") == code
        and error.get("fields")
        and all(re.fullmatch(fields, name, re.DOTALL) for name in error["fields"])
        for label, status, code, fields in REFUSED_BEYOND_THE_SCHEMA
    )


def gate_denied(case, response) -> bool:
    if case.operation.label != "POST /api/v1/gate/check" or response.status_code != 200:
        return False
    answer = response.json()
    reasons = {reason["code"] for reason in answer["reasons"]}
    return answer["decision"] == "deny" and bool(reasons) and reasons <= GATE_DENIES_INVALID_INPUT


load_all_checks()
BUILT_IN = {check.__name__: check for check in CHECK_REGISTRY.get_all()}


def positive_data_acceptance(ctx, response, case):
    if refused_beyond_the_schema(case, response):
        return None
    return BUILT_IN["positive_data_acceptance"](ctx, response, case)


def negative_data_rejection(ctx, response, case):
    if gate_denied(case, response):
        return None
    return BUILT_IN["negative_data_rejection"](ctx, response, case)


CHECKS = [
    {"positive_data_acceptance": positive_data_acceptance}.get(name)
    or {"negative_data_rejection": negative_data_rejection}.get(name)
    or check
    for name, check in BUILT_IN.items()
]
# What an answer to an Accept the operation cannot satisfy is held to: the schema alone.
CONFORMANCE = [check for name, check in BUILT_IN.items() if name.endswith("conformance")]


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


def fuzz(strategy, examples: int, headers: dict, label: str, exercised: set) -> str:
    """Call the operation with generated cases and validate each answer; return the failure."""

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
        case.validate_response(response, checks=CHECKS, headers=headers)
        exercised.add((label, response.status_code))

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to make invalid (no body, no free parameter)
        # has no negative cases; its positive run covers it.
        pass
    except (AssertionError, BaseExceptionGroup) as failure:
        return f"{label}: {failure}"
    return ""


def ask_unacceptable(operation, agent, headers: dict) -> tuple[int, str]:
    """Ask once for a media type no operation answers in; return the status and the failure.

    No body or query: the refusal comes before they are read. Path values match
    every path converter, so the request reaches its view.
    """
    known = {"slug": agent.slug, **PATH_VALUES}
    values = {p.name: known.get(p.name, "1") for p in operation.path_parameters}
    case = operation.Case(path_parameters=values)
    headers = {**headers, **UNACCEPTABLE}
    response = case.call(headers=headers)
    try:
        case.validate_response(response, checks=CONFORMANCE, headers=headers)
    except (AssertionError, BaseExceptionGroup) as failure:
        return response.status_code, f"{operation.label} (Accept: {UNACCEPTABLE}): {failure}"
    return response.status_code, ""


def test_every_operation_conforms_to_the_schema(seeded, agent, keep_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    headers = {"Authorization": f"Bearer {seeded}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    exercised, unacceptable, failures = set(), set(), []
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {"slug": agent.slug} if "slug" in names else {}
        for mode, examples in EXAMPLES.items():
            for path_parameters in (fixed, {}) if fixed else ({},):
                strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)
                failures.append(fuzz(strategy, examples, headers, operation.label, exercised))
        status, failure = ask_unacceptable(operation, agent, headers)
        unacceptable.add((operation.label, status))
        failures.append(failure)
    failures = [failure for failure in failures if failure]
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
    labels = {operation.label for operation in operations}
    assert {label for label, _ in exercised} == labels
    assert any(status < 300 for _, status in exercised)
    assert {label for label, _ in unacceptable} == labels
    refusing = {o.label for o in operations if "406" in o.definition.raw["responses"]}
    assert {label for label, status in unacceptable if status == 406} == refusing


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


def test_the_docs_page_loads_swagger_ui_from_static_with_no_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "http://" not in page and "https://" not in page
    assert 'data-schema-url="/api/v1/schema/"' in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    names = ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "docs.css", "favicon-32x32.png")
    assert sorted(assets) == sorted(static(f"docs/{name}") for name in names)
    for url in assets:
        served = client.get(url)
        assert served.status_code == 200, url
        assert b"".join(served.streaming_content), url
