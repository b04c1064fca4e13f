"""The release gate over HTTP: allow, every deny reason, bad content, auth, speed, throttle."""

import json
from datetime import timedelta

import pytest
from django.conf import settings as dj_settings
from django.core.cache import caches
from django.db import OperationalError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from approvals.api.gate_body import UnreadBody, named_agent
from approvals.api.serializers import GateCheckInputSerializer, gate_request
from approvals.models import ApprovalPackage
from approvals.services import agent_suspend
from audit.actors import Actor
from audit.models import AuditEvent
from audit.verify import audit_verify
from tests.api.conftest import (
    GATE,
    FrozenClock,
    check,
    codes,
    csrf_session,
    error_of,
    plain,
    yaml_of,
)
from tests.factories import AgentFactory, DriftFindingFactory, manifest_for
from tokens.models import Scope
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db


def test_the_approved_scope_is_allowed_by_manifest_yaml_and_digest(api, owner, agent, approved):
    ci = api(owner, Scope.GATE_CHECK, Scope.AGENTS_READ)
    package = ci.get(f"/api/v1/agents/{agent.slug}/packages/{approved.version}").json()
    manifest = plain(manifest_for(agent))
    for body in (
        {"manifest": manifest},
        {"manifest_yaml": yaml_of(manifest)},
        {"digest": approved.digest},
        {"digest": approved.digest.upper()},
    ):
        answer = check(ci, agent=agent.slug, **body)
        assert answer == {
            "decision": "allow",
            "reasons": [],
            "package_version": approved.version,
            "digest": approved.digest,
            # Written as every endpoint writes a time: the packages endpoint's own text.
            "expires_at": package["expires_at"],
        }
    assert package["expires_at"].endswith("Z")


def test_a_narrowed_scope_is_allowed(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["scope"]["datasets"].pop()
    assert check(ci, agent=agent.slug, manifest=manifest)["decision"] == "allow"


def test_every_check_leaves_one_audit_event_naming_the_token(ci, agent, approved, audit_since):
    since = audit_since()
    check(ci, agent=agent.slug, digest=approved.digest)
    check(ci, agent=agent.slug, manifest={"agent": agent.slug})
    check(ci, agent="", digest="x")
    events = since()
    assert [e.action for e in events] == ["gate.checked"] * 3
    assert [e.data["decision"] for e in events] == ["allow", "deny", "deny"]
    assert events[1].data["reasons"] == ["invalid_manifest"]
    assert all(e.token_label.startswith(f"token:{ci.token.prefix}") for e in events)


@pytest.mark.django_db(transaction=True)
def test_a_check_outside_a_transaction_appends_a_chained_event(ci, agent, approved):
    # As gunicorn serves it: no transaction around the request, so the event is
    # appended by the database function in a statement of its own.
    assert not connection.in_atomic_block
    before = AuditEvent.objects.count()
    assert check(ci, agent=agent.slug, digest=approved.digest)["decision"] == "allow"
    event = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.data["decision"]) == ("gate.checked", "allow")
    assert audit_verify().ok


def test_unknown_agent(ci, db):
    answer = check(ci, agent="nobody", digest="0" * 64)
    assert (answer["decision"], codes(answer)) == ("deny", ["unknown_agent"])


def test_a_check_naming_an_agent_the_gate_did_not_find_is_recorded_under_no_agent(
    api, ci, owner, agent, approved, audit_since
):
    """The name is the client's: the trail keeps it as asked, never as an agent's slug, so
    no agent's timeline (one registered later under that name included) holds it."""
    bound = api(owner, Scope.GATE_CHECK, agents=[agent])
    since = audit_since()
    check(ci, agent="made-up", digest="0" * 64)  # unknown_agent
    check(ci, agent="made-up", manifest_yaml="agent: [unclosed")  # invalid_manifest
    check(ci, agent="made-up", digest="00")  # invalid_request
    check(bound, agent="made-up", digest="0" * 64)  # agent_not_bound
    check(bound, agent=agent.slug, digest=approved.digest)
    check(ci, agent=agent.slug, manifest_yaml="agent: [unclosed")
    events = since()
    assert [e.data["reasons"] for e in events] == [
        ["unknown_agent"],
        ["invalid_manifest"],
        ["invalid_request"],
        ["agent_not_bound"],
        [],
        ["invalid_manifest"],
    ]
    unread, read = events[:4], events[4:]
    assert [(e.agent_slug, e.data["requested_agent"]) for e in unread] == [("", "made-up")] * 4
    assert [e.agent_slug for e in read] == [agent.slug] * 2
    assert all("requested_agent" not in e.data for e in read)
    assert not AuditEvent.objects.filter(agent_slug="made-up").exists()
    assert event_sentence(unread[0]).endswith(
        "asked the release gate about the name 'made-up': denied (unknown_agent)"
    )


def test_no_approved_package(ci, workflow, agent):
    workflow.submit(agent)
    answer = check(ci, agent=agent.slug, manifest=plain(manifest_for(agent)))
    assert (answer["decision"], codes(answer)) == ("deny", ["no_approved_package"])


def test_scope_mismatch_lists_the_expansions(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["scope"]["tools"].append({"id": "shell", "access": "execute"})
    answer = check(ci, agent=agent.slug, manifest=manifest)
    assert (answer["decision"], codes(answer)) == ("deny", ["scope_mismatch"])
    expansions = answer["reasons"][0]["expansions"]
    assert any(change["identifier"] == "shell" for change in expansions)
    answer = check(ci, agent=agent.slug, digest="f" * 64)
    assert codes(answer) == ["scope_mismatch"]


def test_approval_expired(ci, agent, approved):
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    answer = check(ci, agent=agent.slug, digest=approved.digest)
    assert (answer["decision"], codes(answer)) == ("deny", ["approval_expired"])


def test_agent_suspended(ci, agent, approved, reviewers):
    agent_suspend(actor=Actor.for_user(reviewers["security"][0]), agent=agent, reason="Incident")
    answer = check(ci, agent=agent.slug, digest=approved.digest)
    assert answer["decision"] == "deny"
    assert "agent_suspended" in codes(answer)


def test_open_critical_drift(ci, agent, approved):
    DriftFindingFactory(agent=agent, package=approved)
    answer = check(ci, agent=agent.slug, digest=approved.digest)
    assert (answer["decision"], codes(answer)) == ("deny", ["open_critical_drift"])


@pytest.mark.parametrize(
    "body",
    [
        {"agent": "support-assistant", "manifest": {"agent": "support-assistant"}},
        {"agent": "support-assistant", "manifest_yaml": "agent: [unclosed"},
        {"agent": "support-assistant", "manifest_yaml": "- a list"},
        {"agent": "support-assistant", "manifest_yaml": "agent: &a [*a]"},  # endless
    ],
)
def test_an_invalid_manifest_is_a_deny_with_its_fields(ci, approved, body):
    answer = check(ci, **body)
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_manifest"])
    assert answer["reasons"][0]["fields"]


def test_a_kill_switch_test_date_in_the_future_is_denied_naming_it(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["kill_switch"]["last_tested"] = "2099-12-31"
    answer = check(ci, agent=agent.slug, manifest=manifest)
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_manifest"])
    assert list(answer["reasons"][0]["fields"]) == ["manifest.kill_switch.last_tested"]


def test_a_manifest_of_another_agent_is_denied(ci, agent, approved):
    other = AgentFactory(slug="other-bot")
    answer = check(ci, agent=agent.slug, manifest=plain(manifest_for(other)))
    assert codes(answer) == ["invalid_manifest"]
    assert "manifest.agent" in answer["reasons"][0]["fields"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("agent: x", "text/plain"),
        ('{"agent": "support-assistant"}', "application/json"),
        ('{"agent": "a", "digest": "00", "manifest": {}}', "application/json"),
        ('{"agent": ["x"], "digest": "' + "0" * 64 + '"}', "application/json"),
        # Deeper than Python's parser goes: a parse error like any other.
        ('{"agent": "a", "manifest": ' + "[" * 50_000 + "]" * 50_000 + "}", "application/json"),
    ],
)
def test_bad_requests_deny_with_200_never_4xx(ci, db, body, content_type):
    response = ci.post(GATE, body, content_type=content_type)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_request"])


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{not json", "application/json"), ("agent: x", "text/plain")],
)
def test_a_signed_in_session_gets_the_same_deny_for_a_bad_body(
    owner, agent, audit_since, body, content_type
):
    # A session's CSRF check reads the body's form fields: the bad body must not be
    # refused there, before the gate answers it.
    client, csrf = csrf_session(owner)
    since = audit_since()
    response = client.post(GATE, body, content_type=content_type, **csrf)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_request"])
    assert "body" in answer["reasons"][0]["fields"]
    assert [event.action for event in since()] == ["gate.checked"]


def test_an_internal_error_answers_deny(ci, agent, approved, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("approvals.api.views.gate_check", broken)
    answer = check(ci, agent=agent.slug, digest=approved.digest)
    assert (answer["decision"], codes(answer)) == ("deny", ["internal_error"])


def test_an_approved_version_whose_stored_manifest_no_longer_reads_answers_deny(
    ci, agent, approved, audit_since
):
    """Inconsistent data: a scope cannot be compared with an approval the gate cannot read."""
    ApprovalPackage.objects.filter(pk=approved.pk).update(manifest={"agent": agent.slug})
    narrowed = plain(manifest_for(agent))
    narrowed["scope"]["datasets"].pop()
    since = audit_since()
    answer = check(ci, agent=agent.slug, manifest=narrowed)
    assert (answer["decision"], codes(answer)) == ("deny", ["internal_error"])
    assert answer["reasons"][0]["message"]
    assert [(e.action, e.data["reasons"]) for e in since()] == [
        ("gate.checked", ["internal_error"])
    ]


def test_no_token_is_401_and_a_token_without_gate_scope_is_403(api, owner, agent):
    response = APIClient().post(GATE, {"agent": agent.slug, "digest": "0" * 64}, format="json")
    assert response.status_code == 401
    response = api(owner, Scope.PACKAGES_WRITE).post(
        GATE, {"agent": agent.slug, "digest": "0" * 64}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"


def test_the_gate_and_writes_are_throttled_per_token(api, owner, agent, monkeypatch):
    clock = FrozenClock(1_800_000_000.0)
    monkeypatch.setattr("api.throttling.time", clock)
    first, second = api(owner, Scope.GATE_CHECK), api(owner, Scope.GATE_CHECK)
    body = {"agent": agent.slug, "digest": "0" * 64}
    rates = {"gate": "2/min", "writes": "1/min"}
    with override_settings(
        REST_FRAMEWORK={**dj_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        statuses = [first.post(GATE, body, format="json").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        throttled = first.post(GATE, body, format="json")
        assert error_of(throttled)["code"] == "throttled"
        assert throttled["Retry-After"] == "60"
        assert second.post(GATE, body, format="json").status_code == 200
        writer = api(owner, Scope.PACKAGES_WRITE, Scope.AGENTS_READ)
        patch = {"description": "x"}
        url = f"/api/v1/agents/{agent.slug}"
        assert writer.patch(url, patch, format="json").status_code == 200
        assert writer.patch(url, patch, format="json").status_code == 429
        assert writer.get(url).status_code == 200
        clock.now += 60
        assert first.post(GATE, body, format="json").status_code == 200
        assert writer.patch(url, patch, format="json").status_code == 200


def test_the_gate_still_decides_when_the_throttle_cannot_count(ci, agent, approved, caplog):
    """Nothing listens on port 1: the cache is down, the check is answered, and logged."""
    dead = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    with override_settings(CACHES={"default": dead}):
        answer = check(ci, agent=agent.slug, digest=approved.digest)
        other = check(ci, agent=agent.slug, digest="0" * 64)
    assert answer["decision"] == "allow"
    assert (other["decision"], codes(other)) == ("deny", ["scope_mismatch"])
    assert "throttle gate not counted" in caplog.text


def test_the_gate_statements_are_prepared_on_their_connection(ci, agent, approved):
    """After a few checks PostgreSQL runs the token, decision and append statements
    from prepared plans (the database OPTIONS) instead of planning each one again."""
    for _ in range(dj_settings.DB_PREPARE_THRESHOLD + 1):
        assert check(ci, agent=agent.slug, digest=approved.digest)["decision"] == "allow"
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = " ".join(row[0] for row in cursor.fetchall())
    for statement in ("FROM tokens_apitoken t", "FROM agents_agent a", "FROM audit_append("):
        assert statement in prepared


def test_a_throttle_window_expires_on_its_own(ci, agent, approved):
    """The window's counter gets its expiry when the first request opens it."""
    check(ci, agent=agent.slug, digest=approved.digest)
    backend = caches["default"]
    client = backend._cache.get_client(write=True)
    keys = client.keys(backend.make_key("throttle:gate:*"))
    assert keys
    assert all(0 < client.ttl(key) <= 61 for key in keys)


def _queries(client, body) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.post(GATE, body, format="json").status_code == 200
    return len(queries)


def test_the_gate_query_count_does_not_grow(ci, workflow, agent, approved):
    by_digest = {"agent": agent.slug, "digest": approved.digest}
    by_manifest = {"agent": agent.slug, "manifest": plain(manifest_for(agent))}
    _queries(ci, by_digest)
    before = (_queries(ci, by_digest), _queries(ci, by_manifest))
    for _ in range(3):
        workflow.approve(agent)
    for _ in range(5):
        AgentFactory()
    for _ in range(5):
        _queries(ci, by_digest)
    after = (_queries(ci, by_digest), _queries(ci, by_manifest))
    assert after == before
    assert before[0] <= 12


def test_the_token_and_the_decision_are_read_by_a_statement_each(ci, agent, approved):
    for body in (
        {"agent": agent.slug, "digest": approved.digest},
        {"agent": agent.slug, "manifest": plain(manifest_for(agent))},
    ):
        with CaptureQueriesContext(connection) as queries:
            assert ci.post(GATE, body, format="json").json()["decision"] == "allow"
        statements = [q["sql"] for q in queries]
        tokens = [sql for sql in statements if "FROM tokens_apitoken t" in sql]
        decisions = [sql for sql in statements if "agents_agent" in sql]
        assert len(tokens) == 1 and len(decisions) == 1, statements
        assert "agents_agent" not in tokens[0]
        # The token's read names its user; the user's own row is never loaded.
        assert not [sql for sql in statements if sql.startswith('SELECT "auth_user"')], statements


def test_the_body_is_parsed_once(ci, agent, approved, monkeypatch):
    body = json.dumps({"agent": agent.slug, "manifest_yaml": yaml_of(manifest_for(agent))})
    parsed = []
    loads = json.loads

    def spy(text, *args, **kwargs):
        if (text.decode() if isinstance(text, bytes) else text) == body:
            parsed.append(text)
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", spy)
    response = ci.post(GATE, body, content_type="application/json")
    assert response.json()["decision"] == "allow"
    assert len(parsed) == 1


WIDENINGS = [
    lambda d, n: d["scope"]["tools"].append({"id": f"tool-{n}", "access": "execute"}),
    lambda d, n: d["scope"]["datasets"][0].update(access="admin"),
    lambda d, n: d["scope"]["tools"][0].update(privileged=True),
    lambda d, n: d["credentials"].update(max_ttl_seconds=86400 + n),
    lambda d, n: d["chaining"].update(max_depth=6 + n % 4),
    lambda d, n: d["model"].update(id=f"example-llm-{n}"),
    lambda d, n: d["scope"]["endpoints"].append(
        {"id": f"https://api{n}.example.net/", "access": "write", "trust_boundary": "third_party"}
    ),
]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picks=st.lists(st.integers(0, len(WIDENINGS) - 1), min_size=1, max_size=3, unique=True),
    n=st.integers(0, 999),
)
def test_no_expansion_is_ever_allowed(ci, agent, approved, picks, n):
    manifest = plain(manifest_for(agent))
    for index in picks:
        WIDENINGS[index](manifest, n)
    answer = check(ci, agent=agent.slug, manifest=manifest)
    assert answer["decision"] == "deny"
    assert "scope_mismatch" in codes(answer) or "invalid_manifest" in codes(answer)


GATE_REQUESTS = [
    {"agent": "support-assistant", "digest": "a" * 64},
    {"agent": "support-assistant", "digest": "A" * 64},
    {"agent": "support-assistant", "manifest": {"agent": "x"}},
    {"agent": "support-assistant", "manifest_yaml": "agent: x\n"},
    {"agent": "support_assistant-2", "digest": "0" * 64},
    {"agent": "support-assistant"},
    {"digest": "0" * 64},
    {"agent": "", "digest": "0" * 64},
    {"agent": "a" * 64, "digest": "0" * 64},
    {"agent": "has space", "digest": "0" * 64},
    {"agent": "trailing-newline\n", "digest": "0" * 64},
    {"agent": ["x"], "digest": "0" * 64},
    {"agent": 7, "digest": "0" * 64},
    {"agent": "a", "digest": "0" * 63},
    {"agent": "a", "digest": "g" * 64},
    {"agent": "a", "digest": 5},
    {"agent": "a", "manifest": [1]},
    {"agent": "a", "manifest": "agent: x"},
    {"agent": "a", "manifest_yaml": ""},
    {"agent": "a", "manifest_yaml": {"agent": "x"}},
    {"agent": "a", "digest": "0" * 64, "manifest": {}},
    {"agent": "a", "manifest": {}, "manifest_yaml": "agent: x"},
]


@pytest.mark.parametrize("data", GATE_REQUESTS)
def test_the_gate_checks_a_request_as_its_documented_serializer_does(data):
    """gate_request (what the gate runs) and the serializer (what OpenAPI shows) agree."""
    serializer = GateCheckInputSerializer(data=data)
    values, errors = gate_request(data)
    assert serializer.is_valid() == (not errors), (serializer.errors, errors)
    if not errors:
        assert values == dict(serializer.validated_data)
    else:
        assert set(errors) <= set(serializer.errors) | {"agent"}


def failing(fragment: str):
    """Fail every statement naming `fragment`, as a database that cannot answer it would."""

    def execute(run, sql, params, many, context):
        if fragment in sql:
            raise OperationalError(f"{fragment} cannot be read")
        return run(sql, params, many, context)

    return connection.execute_wrapper(execute)


@pytest.mark.parametrize("subject", ["digest", "manifest", "manifest_yaml"])
def test_a_decision_that_cannot_be_read_is_a_deny_and_audited(
    ci, agent, approved, audit_since, subject
):
    manifest = plain(manifest_for(agent))
    body = {
        "digest": {"digest": approved.digest},
        "manifest": {"manifest": manifest},
        "manifest_yaml": {"manifest_yaml": yaml_of(manifest)},
    }[subject]
    since = audit_since()
    with failing("agents_agent"):
        answer = check(ci, agent=agent.slug, **body)
    assert (answer["decision"], codes(answer)) == ("deny", ["internal_error"])
    events = since()
    assert [(e.action, e.data["decision"]) for e in events] == [("gate.checked", "deny")]
    assert events[0].data["reasons"] == ["internal_error"]
    assert events[0].data["requested_agent"] == agent.slug


def test_a_binding_that_cannot_be_read_is_a_deny_and_audited(
    api, owner, agent, approved, audit_since
):
    bound = api(owner, Scope.GATE_CHECK, agents=[agent])
    since = audit_since()
    with failing('"agents_agent"."slug"'):
        answer = check(bound, agent=agent.slug, digest=approved.digest)
    assert (answer["decision"], codes(answer)) == ("deny", ["internal_error"])
    events = since()
    assert [(e.action, e.data["decision"], e.data["reasons"]) for e in events] == [
        ("gate.checked", "deny", ["internal_error"])
    ]
    # No agent was read, so the event is under none; it keeps the one the client named.
    assert (events[0].agent_slug, events[0].data["requested_agent"]) == ("", agent.slug)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"agent": " support-bot ", "digest": 3}, "support-bot"),
        ({"agent": 42}, "42"),
        ({"agent": "no spaces"}, ""),
        ({"agent": ["support-bot"]}, ""),
        ({"agent": "x" * 200}, ""),
        ({}, ""),
        (["support-bot"], ""),
        (UnreadBody("Not JSON."), ""),
        (None, ""),
    ],
)
def test_a_failed_check_keeps_the_agent_only_as_a_valid_request_names_it(data, named):
    assert named_agent(data) == named


def test_a_decision_that_cannot_be_recorded_is_a_deny(ci, agent, approved):
    with failing("audit"):
        decided = check(ci, agent=agent.slug, digest=approved.digest)
        refused = check(ci, agent=agent.slug, manifest={"agent": agent.slug})
    assert (decided["decision"], codes(decided)) == ("deny", ["audit_unavailable"])
    assert (refused["decision"], codes(refused)) == (
        "deny",
        ["invalid_manifest", "audit_unavailable"],
    )


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_decision_that_cannot_be_recorded_is_a_deny(ci, agent, approved):
    assert not connection.in_atomic_block
    with failing("audit_append"):
        answer = check(ci, agent=agent.slug, digest=approved.digest)
    assert (answer["decision"], codes(answer)) == ("deny", ["audit_unavailable"])
    assert check(ci, agent=agent.slug, digest=approved.digest)["decision"] == "allow"
