"""A database restart costs no request an error: a kept connection is checked before use."""

import io
import json
import sys
from datetime import timedelta

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from tokens.models import Scope
from tokens.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


def serve(method: str, path: str, secret: str, body: dict | None = None) -> tuple[int, dict]:
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
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    response = WSGIHandler()(environ, start_response)
    content = b"".join(response)
    response.close()
    return int(statuses[0].split()[0]), json.loads(content)


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


def test_a_terminated_connection_is_replaced_before_the_next_request(workflow, agent, owner):
    approved = workflow.approve(agent)
    _, secret = token_create(
        actor=Actor.system("tests"),
        user=owner,
        name="ci",
        scopes=[Scope.GATE_CHECK, Scope.AGENTS_READ],
        expires_at=timezone.now() + timedelta(days=1),
    )
    check = {"agent": agent.slug, "digest": approved.digest}
    assert not connection.in_atomic_block
    status, answer = serve("POST", "/api/v1/gate/check", secret, check)
    assert (status, answer["decision"]) == (200, "allow")
    kept = backend_pid()

    terminate(kept)
    status, answer = serve("POST", "/api/v1/gate/check", secret, check)
    assert (status, answer["decision"], answer["reasons"]) == (200, "allow", [])
    replaced = backend_pid()
    assert replaced != kept

    terminate(replaced)
    status, answer = serve("GET", f"/api/v1/agents/{agent.slug}", secret)
    assert (status, answer["slug"]) == (200, agent.slug)
    assert backend_pid() != replaced
