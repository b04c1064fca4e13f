"""A database restart costs no request an error: a kept connection is checked before use.

A restart ends every server process, so each web process holds a dead connection.
`pg_terminate_backend` ends the one these requests use, as a restart does.
"""

import io
import json
import sys
from datetime import timedelta

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client
from django.utils import timezone

from approvals.gate import DECISION_SQL
from audit.actors import Actor
from tests.web.conftest import PLAIN_STATIC
from tokens.models import Scope
from tokens.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


def serve(
    method: str, path: str, *, secret: str = "", cookie: str = "", body: dict | None = None
) -> tuple[int, bytes]:
    """Answer a request the way a WSGI server has Django answer it, request signals included.

    (The test client leaves the connection checks of those signals out.)
    """
    data = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    if secret:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    response = WSGIHandler()(environ, start_response)
    content = b"".join(response)
    response.close()
    return int(statuses[0].split()[0]), content


def serve_json(method: str, path: str, **kwargs) -> tuple[int, dict]:
    status, content = serve(method, path, **kwargs)
    assert status != 500, content[:500]
    return status, json.loads(content)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """End a server process from another connection, as a database restart does."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.fixture
def gate_secret(owner):
    _, secret = token_create(
        actor=Actor.system("tests"),
        user=owner,
        name="ci",
        scopes=[Scope.GATE_CHECK, Scope.AGENTS_READ],
        expires_at=timezone.now() + timedelta(days=1),
    )
    return secret


def test_a_request_keeps_its_connection_for_the_next_one(gate_secret, agent):
    """What the tests below rely on: the connection outlives a request, as in production."""
    assert connection.settings_dict["CONN_MAX_AGE"] > 0
    assert not connection.in_atomic_block
    serve_json("GET", f"/api/v1/agents/{agent.slug}", secret=gate_secret)
    kept = backend_pid()
    serve_json("GET", f"/api/v1/agents/{agent.slug}", secret=gate_secret)
    assert backend_pid() == kept


def test_a_terminated_connection_is_replaced_before_the_next_request(
    workflow, agent, gate_secret, audit_since
):
    approved = workflow.approve(agent)
    check = {"agent": agent.slug, "digest": approved.digest}
    assert not connection.in_atomic_block
    status, answer = serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)
    assert (status, answer["decision"]) == (200, "allow")
    kept = backend_pid()

    since = audit_since()
    terminate(kept)
    status, answer = serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)
    assert (status, answer["decision"], answer["reasons"]) == (200, "allow", [])
    # The answer went out with its audit event, written on the new connection.
    assert [(e.action, e.data["decision"]) for e in since()] == [("gate.checked", "allow")]
    replaced = backend_pid()
    assert replaced != kept

    terminate(replaced)
    status, answer = serve_json("GET", f"/api/v1/agents/{agent.slug}", secret=gate_secret)
    assert (status, answer["slug"]) == (200, agent.slug)
    assert backend_pid() != replaced


def test_the_gate_denies_what_is_not_approved_right_after_a_restart(
    workflow, agent, gate_secret, audit_since
):
    workflow.approve(agent)
    check = {"agent": agent.slug, "digest": "0" * 64}
    assert serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)[0] == 200

    since = audit_since()
    terminate(backend_pid())
    status, answer = serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)
    assert (status, answer["decision"]) == (200, "deny")
    assert [reason["code"] for reason in answer["reasons"]] == ["scope_mismatch"]
    assert [(e.action, e.data["decision"]) for e in since()] == [("gate.checked", "deny")]


def test_the_gate_denies_when_the_connection_dies_during_a_check(workflow, agent, gate_secret):
    """Past the check at the request's start, a lost connection is a deny, never an allow."""
    approved = workflow.approve(agent)
    check = {"agent": agent.slug, "digest": approved.digest}
    assert serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)[0] == 200
    pid = backend_pid()
    killed = []

    def die_before_deciding(execute, sql, params, many, context):
        if sql == DECISION_SQL and not killed:
            terminate(pid)
            killed.append(pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(die_before_deciding):
        status, answer = serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)
    assert killed == [pid]
    assert (status, answer["decision"]) == (200, "deny")
    assert [reason["code"] for reason in answer["reasons"]] == ["audit_unavailable"]
    # The next request has a connection again, and the approval back.
    status, answer = serve_json("POST", "/api/v1/gate/check", secret=gate_secret, body=check)
    assert (status, answer["decision"]) == (200, "allow")


def test_a_page_after_a_restart_answers(owner, agent, settings):
    settings.STORAGES = PLAIN_STATIC
    browser = Client()
    browser.force_login(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    status, page = serve("GET", f"/agents/{agent.slug}/", cookie=cookie)
    assert status == 200 and agent.name.encode() in page
    kept = backend_pid()

    terminate(kept)
    status, page = serve("GET", f"/agents/{agent.slug}/", cookie=cookie)
    assert status == 200 and agent.name.encode() in page
    assert backend_pid() != kept
