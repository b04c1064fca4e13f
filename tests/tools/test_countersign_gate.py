"""Run tools/countersign-gate as CI would, against a real HTTP server on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "countersign-gate"
TOKEN = "cs_test_5ecr3t-t0ken"
DIGEST = "a" * 64

ALLOW = {
    "decision": "allow",
    "reasons": [],
    "package_version": 3,
    "digest": DIGEST,
    "expires_at": "2027-03-01T00:00:00Z",
}
DENY = {
    "decision": "deny",
    "reasons": [
        {
            "code": "scope_mismatch",
            "message": "The manifest asks for more than the approved package allows.",
            "expansions": [
                {"kind": "tool", "identifier": "shell-exec", "change": "new entry"},
                "chaining max_depth 2 -> 4",
            ],
        },
        {"code": "approval_expired", "message": "The approval expired on 2026-10-01."},
    ],
    "package_version": 2,
    "digest": DIGEST,
    "expires_at": None,
}

YAML_MANIFEST = """\
# An agent manifest.
name: Customer support assistant
owner:
  agent: not-this-one
agent: "support-assistant"   # the slug CI uses
scope:
  tools:
    - id: kb-search
      access: read
"""
JSON_MANIFEST = {
    "agent": "hr-policy-copilot",
    "scope": {"datasets": [{"id": "hr.policies", "access": "read"}]},
}


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


# Far beyond any timeout a test gives a client, and within the bounds on a hung test.
HOLD_SECONDS = 60
# Well within any timeout a test gives a client: each byte of a dripped answer comes in time.
DRIP_SECONDS = 0.05


class FakeServer:
    """A canned-answer HTTP server; `routes` maps a path to a list of answers, used in order.

    An answer is (status, body) where body is a dict (sent as JSON) or bytes; the
    string "drop" closes the connection without answering; ("hold", answer) sends the
    answer only after HOLD_SECONDS, and never when the server stops first (a client
    that waits for it gets it, late, and fails its test rather than hanging);
    ("drip", "headers" or "body", answer) sends the answer's headers and body, or its
    body only, a byte every DRIP_SECONDS, until the server stops.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                answers = server.routes.get(self.path)
                if not answers:
                    self._send(404, {"error": {"code": "not_found", "message": "No route."}})
                    return
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if answer[0] == "drip":
                    self._drip(answer[1], *answer[2])
                    return
                if answer[0] == "hold":
                    if server.stopping.wait(HOLD_SECONDS):
                        self.close_connection = True
                        return
                    answer = answer[1]
                self._send(*answer)

            def _drip(self, where, status, body):
                payload = json.dumps(body).encode()
                head = (
                    f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
                ).encode()
                self.close_connection = True
                if where == "body":
                    self.wfile.write(head)
                for byte in (head if where == "headers" else b"") + payload:
                    if server.stopping.wait(DRIP_SECONDS):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                    except OSError:  # the client gave up
                        return

            def _send(self, status, body, headers=None):
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def yaml_manifest(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(YAML_MANIFEST)
    return path


@pytest.fixture
def json_manifest(tmp_path):
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(JSON_MANIFEST))
    return path


def run_gate(*args, url=None, token=TOKEN, timeout=30, **environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")}
    env.update(environment)
    env["NO_PROXY"] = env["no_proxy"] = "*"
    if url is not None:
        env["COUNTERSIGN_URL"] = url
    if token is not None:
        env["COUNTERSIGN_TOKEN"] = token
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert TOKEN not in result.stdout + result.stderr
    return result


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- check --------------------------------------------------------------------------------


def test_script_is_executable_with_python_shebang():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")


def test_allow_exits_0_and_sends_json_manifest_with_auth(server, json_manifest):
    server.routes["/api/v1/gate/check"] = [(200, ALLOW)]

    result = run_gate("check", "--manifest", json_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert "ALLOW" in result.stdout and "v3" in result.stdout
    [request] = server.requests
    assert request.json() == {"agent": "hr-policy-copilot", "manifest": JSON_MANIFEST}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "countersign-gate/1"
    assert uuid.UUID(request.headers["Idempotency-Key"]).version == 4


def test_an_allow_on_an_emergency_approval_prints_its_reason(server, json_manifest):
    emergency = {
        **ALLOW,
        "reasons": [{"code": "emergency_approval", "message": "v3 ships until 2026-12-07."}],
        "expires_at": "2026-12-07T20:00:00Z",
    }
    server.routes["/api/v1/gate/check"] = [(200, emergency)]

    result = run_gate("check", "--manifest", json_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert "emergency approval valid until 2026-12-07T20:00:00Z" in result.stdout
    assert "emergency_approval: v3 ships until 2026-12-07." in result.stdout


def test_yaml_manifest_is_sent_as_text_with_slug_from_top_level_key(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [(200, ALLOW)]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    [request] = server.requests
    assert request.json() == {"agent": "support-assistant", "manifest_yaml": YAML_MANIFEST}


def test_agent_option_overrides_manifest_slug(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [(200, ALLOW)]

    result = run_gate("check", "--manifest", yaml_manifest, "--agent", "other", url=server.url)

    assert result.returncode == 0, result.stderr
    assert server.requests[0].json()["agent"] == "other"


def test_deny_exits_1_and_prints_reasons_and_expansions(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [(200, DENY)]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 1
    assert "DENY" in result.stderr
    assert "scope_mismatch: The manifest asks for more" in result.stderr
    assert "shell-exec" in result.stderr
    assert "chaining max_depth 2 -> 4" in result.stderr
    assert "approval_expired: The approval expired on 2026-10-01." in result.stderr


def test_json_flag_prints_raw_answer(server, json_manifest):
    server.routes["/api/v1/gate/check"] = [(200, DENY)]

    result = run_gate("check", "--manifest", json_manifest, "--json", url=server.url)

    assert result.returncode == 1
    assert json.loads(result.stdout) == DENY


def test_check_by_digest(server):
    server.routes["/api/v1/gate/check"] = [(200, ALLOW)]

    result = run_gate(
        "check", "--digest", f"sha256:{DIGEST}", "--digest-only", "--agent", "a", url=server.url
    )

    assert result.returncode == 0, result.stderr
    assert server.requests[0].json() == {"agent": "a", "digest": DIGEST}


def test_digest_only_without_digest_is_a_usage_error(server, yaml_manifest):
    result = run_gate("check", "--manifest", yaml_manifest, "--digest-only", url=server.url)

    assert result.returncode == 2
    assert "--digest-only needs --digest" in result.stderr
    assert server.requests == []


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["check"],
        ["frobnicate"],
        ["check", "--digest", "not-hex", "--agent", "a"],
        ["check", "--digest", DIGEST],
        ["check", "--manifest", "/nonexistent/agent.yaml"],
    ],
)
def test_usage_errors_exit_2(server, args):
    result = run_gate(*args, url=server.url)

    assert result.returncode == 2
    assert server.requests == []


@pytest.mark.parametrize("timeout", ["inf", "nan", "-1", "0", "1e10"])
def test_a_timeout_no_socket_can_wait_for_is_a_usage_error(server, yaml_manifest, timeout):
    result = run_gate("check", "--manifest", yaml_manifest, "--timeout", timeout, url=server.url)

    assert result.returncode == 2
    assert (
        "error: argument --timeout: must be a number of seconds greater than 0 and at most 86400, "
        f"got {timeout!r}" in result.stderr
    )
    assert "internal error" not in result.stderr
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("countersign.example", "must be an http:// or https:// URL naming a host"),
        ("ftp://countersign.example", "must be an http:// or https:// URL naming a host"),
        ("http://:8000", "must be an http:// or https:// URL naming a host"),
        ("http://[::1", "is not a valid URL"),
        ("http://ci:pw\u2100@127.0.0.1", "is not a valid URL"),
        ("http://127.0.0.1:99999", "has a port that is not a number from 0 to 65535"),
        ("http://ci:pw@127.0.0.1:99999", "has a port that is not a number from 0 to 65535"),
        ("http://ci:pw@127.0.0.1:8000/", "must not hold a user name or password"),
        ("https://ci@countersign.example", "must not hold a user name or password"),
    ],
)
def test_a_url_no_request_can_go_to_is_a_usage_error(yaml_manifest, url, why):
    given = run_gate("check", "--manifest", yaml_manifest, "--url", url)
    from_environment = run_gate("check", "--manifest", yaml_manifest, url=url)

    assert given.returncode == from_environment.returncode == 2
    assert given.stderr.startswith(f"countersign-gate: error: --url {why}")
    assert from_environment.stderr.startswith(f"countersign-gate: error: COUNTERSIGN_URL {why}")
    assert len(given.stderr.splitlines()) == len(from_environment.stderr.splitlines()) == 1
    assert "ci:pw" not in given.stderr + from_environment.stderr


@pytest.mark.parametrize("slug", ["support-assistant\n", "support-assistant\nx", ""])
def test_a_slug_with_a_line_break_is_refused_without_calling(server, json_manifest, slug):
    by_option = run_gate("check", "--manifest", json_manifest, "--agent", slug, url=server.url)
    named = json_manifest.parent / "named.json"
    named.write_text(json.dumps({**JSON_MANIFEST, "agent": slug}))
    in_manifest = run_gate("submit", "--manifest", named, url=server.url)

    for result in (by_option, in_manifest):
        assert result.returncode == 2
        assert result.stderr == f"countersign-gate: error: invalid agent slug {slug!r}\n"
    assert server.requests == []


def test_missing_token_exits_2_without_calling(server, yaml_manifest):
    result = run_gate("check", "--manifest", yaml_manifest, url=server.url, token=None)

    assert result.returncode == 2
    assert "COUNTERSIGN_TOKEN" in result.stderr
    assert server.requests == []


def test_missing_url_exits_2(yaml_manifest):
    result = run_gate("check", "--manifest", yaml_manifest)

    assert result.returncode == 2
    assert "COUNTERSIGN_URL" in result.stderr


def test_manifest_without_agent_key_exits_2(server, tmp_path):
    path = tmp_path / "agent.yml"
    path.write_text("name: nameless\nscope: {}\n")

    result = run_gate("check", "--manifest", path, url=server.url)

    assert result.returncode == 2
    assert "--agent" in result.stderr


def test_invalid_json_manifest_exits_2(server, tmp_path):
    path = tmp_path / "agent.json"
    path.write_text("{not json")

    result = run_gate("check", "--manifest", path, url=server.url)

    assert result.returncode == 2
    assert server.requests == []


def test_connection_refused_exits_2(yaml_manifest):
    result = run_gate("check", "--manifest", yaml_manifest, url=closed_port_url())

    assert result.returncode == 2
    assert "cannot reach" in result.stderr


def test_server_error_exits_2(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [
        (500, {"error": {"code": "server_error", "message": "Boom."}})
    ]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert "HTTP 500" in result.stderr and "Boom." in result.stderr


def test_client_error_prints_error_shape_without_token(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [
        (
            400,
            {
                "error": {
                    "code": "invalid",
                    "message": "The manifest is invalid.",
                    "fields": {"scope.tools[0].access": ["Not one of read, write."]},
                }
            },
        )
    ]

    result = run_gate("check", "--manifest", yaml_manifest, "--token", TOKEN, url=server.url)

    assert result.returncode == 2
    assert "HTTP 400: invalid: The manifest is invalid." in result.stderr
    assert "scope.tools[0].access: Not one of read, write." in result.stderr


def test_non_json_answer_exits_2(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [(200, b"<html>proxy login</html>")]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert "not JSON" in result.stderr


@pytest.mark.parametrize(
    "answer",
    [
        {"decision": "maybe", "reasons": []},
        {"reasons": []},
        ["allow"],
        {"decision": "allow", "reasons": "none", "package_version": 1, "digest": DIGEST},
        {"decision": "allow", "reasons": [], "package_version": None, "digest": None},
    ],
)
def test_unexpected_answer_shape_exits_2(server, yaml_manifest, answer):
    server.routes["/api/v1/gate/check"] = [(200, answer)]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2


def test_redirect_is_not_followed(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [(302, b"", {"Location": "http://127.0.0.1:1/elsewhere"})]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert len(server.requests) == 1


def test_timeout_exits_2(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = [("hold", (200, ALLOW))]

    # The server holds its answer beyond run_gate's bound: only the gate's timeout ends it.
    result = run_gate("check", "--manifest", yaml_manifest, "--timeout", "0.5", url=server.url)

    assert result.returncode == 2
    assert len(server.requests) == 1
    assert "within 0.5 s" in result.stderr


@pytest.mark.parametrize("where", ["headers", "body"])
def test_an_answer_sent_a_byte_at_a_time_times_out_as_a_whole(server, yaml_manifest, where):
    """--timeout bounds the whole request, not each read: every byte comes in time, and
    the whole answer would take many times the timeout."""
    server.routes["/api/v1/gate/check"] = [("drip", where, (200, ALLOW))]

    started = time.monotonic()
    result = run_gate("check", "--manifest", yaml_manifest, "--timeout", "0.5", url=server.url)

    assert result.returncode == 2
    assert f"no complete answer from {server.url}/api/v1/gate/check within 0.5 s" in result.stderr
    assert time.monotonic() - started < 3
    assert len(server.requests) == 1


def test_dropped_connection_is_retried_once_with_same_idempotency_key(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = ["drop", (200, ALLOW)]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_connection_dropped_twice_exits_2(server, yaml_manifest):
    server.routes["/api/v1/gate/check"] = ["drop"]

    result = run_gate("check", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert len(server.requests) == 2


def test_no_retry_is_made_with_too_little_of_the_timeout_left(server, yaml_manifest):
    """--timeout bounds the whole run: a retry needs its delay (1 s) and 1 s for itself."""
    server.routes["/api/v1/gate/check"] = ["drop", (200, ALLOW)]

    result = run_gate("check", "--manifest", yaml_manifest, "--timeout", "1.5", url=server.url)

    assert result.returncode == 2
    assert len(server.requests) == 1
    assert "(not retried: less than 2 s of --timeout 1.5 s left)" in result.stderr


def test_the_retry_ends_at_the_runs_deadline(server, yaml_manifest):
    """The retry, made with 2.5 s less the first attempt and the delay left, times out as the
    run does; the server holds its answer beyond run_gate's bound."""
    server.routes["/api/v1/gate/check"] = ["drop", ("hold", (200, ALLOW))]

    result = run_gate("check", "--manifest", yaml_manifest, "--timeout", "2.5", url=server.url)

    assert result.returncode == 2
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert f"no complete answer from {server.url}/api/v1/gate/check within 2.5 s" in (result.stderr)


def test_the_help_says_the_timeout_bounds_the_whole_run():
    result = run_gate("check", "--help")

    assert result.returncode == 0
    assert "seconds the whole run may take" in " ".join(result.stdout.split())


# --- submit -------------------------------------------------------------------------------


def change(kind, identifier, field, what, old, new, classification, words=None):
    """Return a change as the API gives it in a package's diff; `words` None as an older
    server gave it, without them."""
    shown = {
        "kind": kind,
        "identifier": identifier,
        "field": field,
        "change": what,
        "old": old,
        "new": new,
        "classification": classification,
        "message": f"{kind} {identifier}: {field} {what} ({classification})",
    }
    return shown if words is None else {**shown, "words": words}


# A diff as the API gives it: its groups in the server's order, then its flags.
DIFF = {
    "expansions": [
        change("tool", "zendesk", "entry", "added", None, {}, "expansion", "tool zendesk: added")
    ],
    "commitments": [
        change(
            "package",
            "kill_switch.max_minutes_to_revoke",
            "value",
            "changed",
            5,
            15,
            "commitment",
            "kill switch: minutes to revoke: 5 → 15",
        )
    ],
    "narrowings": [
        change(
            "tool",
            "kb-search",
            "access",
            "changed",
            "write",
            "read",
            "narrowing",
            "tool kb-search: access Write → Read",
        )
    ],
    "narrative": [],
    "is_expansion": True,
    "is_commitment_change": True,
    "is_pure_narrowing": False,
}
CREATED = {
    "version": 4,
    "digest": DIGEST,
    "risk_tier": "high",
    "risk_tier_label": "High",
    "base_version": None,
    "diff": DIFF,
}
# The submit answer: the package again, its base fixed and its diff against that base.
SUBMITTED = {**CREATED, "state": "in_review", "state_label": "In review", "base_version": 3}


def test_submit_posts_raw_manifest_then_submits(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [
        (200, {"version": 4, "state": "in_review", "state_label": "In review"})
    ]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    create, submit = server.requests
    assert create.path == "/api/v1/agents/support-assistant/packages"
    assert create.body == yaml_manifest.read_bytes()
    assert create.headers["Content-Type"] == "application/yaml"
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    assert submit.path == "/api/v1/agents/support-assistant/packages/4/submit"
    assert submit.json() == {}
    assert submit.headers["Idempotency-Key"] != create.headers["Idempotency-Key"]
    assert "submitted v4 for review; state: In review" in result.stdout
    assert "in_review" not in result.stdout
    assert f"created package v4 of agent support-assistant (digest {DIGEST}), risk tier High" in (
        result.stdout
    )


def test_submit_says_each_change_in_the_servers_words_one_a_line_its_class_marked(
    server, yaml_manifest
):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [(200, SUBMITTED)]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "  changes against v3, the last approved version:",
        "    tool zendesk: added (expansion)",
        "    kill switch: minutes to revoke: 5 → 15 (commitment)",
        "    tool kb-search: access Write → Read (narrowing)",
        "countersign-gate: submitted v4 for review; state: In review",
    ]


def test_submit_no_submit_says_a_drafts_changes_against_no_version_named(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]

    result = run_gate("submit", "--manifest", yaml_manifest, "--no-submit", url=server.url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:3] == [
        "  changes against the last approved version, if any:",
        "    tool zendesk: added (expansion)",
    ]
    for raw in ("expansions", "narrative", "is_expansion", "True", "kill_switch"):
        assert raw not in result.stdout


def test_submit_words_reach_an_output_that_takes_ascii_only(server, yaml_manifest):
    """A CI log in another encoding than UTF-8 gets the words escaped, not a failed step."""
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]

    ascii_only = {"PYTHONIOENCODING": "ascii"}

    result = run_gate(
        "submit", "--manifest", yaml_manifest, "--no-submit", url=server.url, **ascii_only
    )

    assert result.returncode == 0, result.stderr
    assert "    tool kb-search: access Write \\u2192 Read (narrowing)\n" in result.stdout


def test_submit_says_a_first_version_has_nothing_to_compare_with(server, yaml_manifest):
    only_added = {**DIFF, "commitments": [], "narrowings": []}
    first = {**SUBMITTED, "base_version": None, "diff": only_added}
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [(200, first)]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert "  changes, with no version approved before:\n    tool zendesk: added (expansion)\n" in (
        result.stdout
    )


def test_submit_says_when_nothing_changed_against_the_approved_version(server, yaml_manifest):
    empty = {group: [] for group in ("expansions", "commitments", "narrowings", "narrative")}
    unchanged = {**SUBMITTED, "diff": {**DIFF, **empty, "is_expansion": False}}
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [(200, unchanged)]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert "  no change against v3, the last approved version\n" in result.stdout


def test_submit_shows_the_diff_by_its_fields_when_the_server_gives_no_words(server, yaml_manifest):
    """An older server's diff has no words: its fields, as it gives them."""
    older = {
        "expansions": [change("tool", "zendesk", "entry", "added", None, {}, "expansion")],
        "narrative": [],
        "is_expansion": True,
    }
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, {**CREATED, "diff": older})]

    result = run_gate("submit", "--manifest", yaml_manifest, "--no-submit", url=server.url)

    assert result.returncode == 0, result.stderr
    assert (
        "  expansions: 1\n    - tool zendesk: entry added (expansion)\n  narrative: 0\n"
        "  is_expansion: True\n"
    ) in result.stdout


def test_submit_names_the_state_by_its_value_when_the_server_gives_no_label(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [
        (200, {"version": 4, "state": "in_review"})
    ]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 0, result.stderr
    assert "submitted v4 for review; state: in_review" in result.stdout


def test_submit_names_the_risk_tier_by_its_value_when_the_server_gives_no_label(
    server, yaml_manifest
):
    created = {key: value for key, value in CREATED.items() if key != "risk_tier_label"}
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, created)]

    result = run_gate("submit", "--manifest", yaml_manifest, "--no-submit", url=server.url)

    assert result.returncode == 0, result.stderr
    assert ", risk tier high" in result.stdout


def test_submit_json_manifest_uses_json_content_type(server, json_manifest):
    server.routes["/api/v1/agents/hr-policy-copilot/packages"] = [(201, CREATED)]

    result = run_gate("submit", "--manifest", json_manifest, "--no-submit", url=server.url)

    assert result.returncode == 0, result.stderr
    [create] = server.requests
    assert create.headers["Content-Type"] == "application/json"
    assert create.body == json_manifest.read_bytes()
    assert "draft" in result.stdout


def test_submit_json_output(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [
        (200, {"state": "submitted"})
    ]

    result = run_gate("submit", "--manifest", yaml_manifest, "--json", url=server.url)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"package": CREATED, "submit": {"state": "submitted"}}


def test_submit_rejected_package_exits_2(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [
        (422, {"error": {"code": "invalid_manifest", "message": "Unknown access 'root'."}})
    ]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert "invalid_manifest" in result.stderr
    assert len(server.requests) == 1


def test_failed_submit_step_exits_2(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, CREATED)]
    server.routes["/api/v1/agents/support-assistant/packages/4/submit"] = [
        (409, {"error": {"code": "invalid_transition", "message": "Already submitted."}})
    ]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert "invalid_transition" in result.stderr


def test_submit_answer_without_version_exits_2(server, yaml_manifest):
    server.routes["/api/v1/agents/support-assistant/packages"] = [(201, {"digest": DIGEST})]

    result = run_gate("submit", "--manifest", yaml_manifest, url=server.url)

    assert result.returncode == 2
    assert len(server.requests) == 1
