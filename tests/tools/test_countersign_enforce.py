"""tools/countersign_enforce.py, imported as an agent runtime does, against a live server.

It asks the AuthZEN endpoint (allows kept for a TTL on an injected clock, denies
never kept), or keeps the signed Cedar bundle and decides with cedarpy; every
failure denies.
"""

import importlib.util
import re
import socket
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from approvals.models import ApprovalPackage
from approvals.services import agent_suspend
from audit import signing
from audit.actors import Actor
from runtime.api.views import KEY_HEADER
from tests.audit.conftest import pem_of
from tests.factories import manifest_for
from tests.tools.test_countersign_gate import FakeServer
from tests.tools.test_verify_evidence import ec_public_pem, unknown_key_type_pem
from tokens.models import Scope

SOURCE = Path(__file__).resolve().parents[2] / "tools" / "countersign_enforce.py"
pytestmark = pytest.mark.django_db(transaction=True)


def load():
    spec = importlib.util.spec_from_file_location("countersign_enforce", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


enforce = load()


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def runtime_token(transactional_db, make_token, owner, agent):
    """The secret of a token bound to the agent, as its runtime holds."""
    return make_token(owner, Scope.DECISIONS_EVALUATE, agents=[agent])[1]


@pytest.fixture
def approved(transactional_db, workflow, agent):
    return workflow.approve(agent)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def pep(live_server, runtime_token, agent, clock):
    return enforce.Enforcer(live_server.url, runtime_token, agent.slug, clock=clock)


def policy_url(live_server, agent):
    return f"{live_server.url}/api/v1/agents/{agent.slug}/policy"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def suspend(agent):
    agent_suspend(actor=Actor.system("oncall"), agent=agent, reason="Incident 43.")


def test_the_decision_point_allows_the_approved_scope_and_denies_beyond_it(pep, approved, agent):
    assert pep.decide("read", "tool", "kb-search") == enforce.Decision(True)
    assert pep.decide("admin", "tool", "kb-search") == enforce.Decision(False, "scope_mismatch")
    with pytest.raises(enforce.Denied) as denied:
        pep.check("execute", "tool", "shell", context={"chain_depth": 0})
    assert denied.value.reason == "scope_mismatch"
    assert "shell" in str(denied.value)

    ran = []

    @pep.guard("read", "tool", "kb-search")
    def kb_search(query):
        ran.append(query)
        return "answer"

    @pep.guard("write", "tool", "shell")
    def shell(command):
        ran.append(command)

    assert kb_search("refunds") == "answer"
    with pytest.raises(enforce.Denied):
        shell("rm -rf /")
    assert ran == ["refunds"], "a denied call never runs"


def test_any_failure_denies(live_server, runtime_token, agent, approved):
    down = enforce.Enforcer(f"http://127.0.0.1:{closed_port()}", runtime_token, agent.slug)
    assert down.decide("read", "tool", "kb-search") == enforce.Decision(False, "unreachable")
    wrong = enforce.Enforcer(live_server.url, "cs_not-a-token", agent.slug)
    assert wrong.decide("read", "tool", "kb-search") == enforce.Decision(False, "http_401")
    elsewhere = enforce.Enforcer(f"{live_server.url}/nowhere", runtime_token, agent.slug)
    assert elsewhere.decide("read", "tool", "kb-search") == enforce.Decision(False, "http_404")
    with pytest.raises(ValueError):
        enforce.Enforcer("file:///etc/passwd", runtime_token, agent.slug)


# An answer is waited for generously (the timeout only bounds a hang); one that never
# comes is given up after the short timeout, whatever the machine's load.
@pytest.mark.parametrize(
    ("answer", "timeout", "reason"),
    [
        ((200, b"not json"), 30, "bad_response"),
        ((200, {"decision": "true"}), 30, "bad_response"),
        ((200, b'{"decision": false, "decision": true}'), 30, "bad_response"),
        ((200, b'{"decision": true, "x": "' + b"a" * 65536 + b'"}'), 30, "bad_response"),
        ((500, {"decision": True}), 30, "http_500"),
        (("hold", (200, {"decision": True})), 0.3, "unreachable"),
        # Each byte comes well within the timeout; the whole answer would not.
        (("drip", "headers", (200, {"decision": True})), 0.3, "unreachable"),
        (("drip", "body", (200, {"decision": True})), 0.3, "unreachable"),
    ],
)
def test_a_bad_or_slow_answer_denies(answer, timeout, reason):
    server = FakeServer()
    route = "/access/v1/evaluation"
    server.routes[route] = [answer]
    with server:
        pep = enforce.Enforcer(server.url, "cs_x", "support-assistant", timeout=timeout)
        started = time.monotonic()
        assert pep.decide("read", "tool", "kb-search") == enforce.Decision(False, reason)
        assert time.monotonic() - started < timeout + 1


def test_an_allow_is_kept_for_its_ttl_and_a_deny_never(pep, approved, agent, clock, workflow):
    assert pep.decide("read", "tool", "kb-search").allowed
    denied = pep.decide("write", "tool", "refund-issue-2")
    assert denied == enforce.Decision(False, "scope_mismatch")
    # A wider version is approved: the deny was not kept, so the next call sees it at once.
    wider = manifest_for(agent)
    wider["scope"]["tools"].append(
        {"id": "refund-issue-2", "access": "write", "justification": "Refunds."}
    )
    workflow.approve(agent, wider)
    assert pep.decide("write", "tool", "refund-issue-2").allowed
    assert pep.decide("read", "tool", "kb-search").allowed  # kept: that deny was the entry's

    suspend(agent)
    clock.now += 29.9
    assert pep.decide("read", "tool", "kb-search").allowed, "kept for the TTL"
    assert not pep.decide("read", "tool", "kb-search", context={"chain_depth": 0}).allowed
    clock.now += 0.1
    assert pep.decide("read", "tool", "kb-search") == enforce.Decision(False, "agent_suspended")


@pytest.fixture
def polls(monkeypatch):
    """Record each policy request's If-None-Match header and the status it was answered with."""
    seen = []
    opener = enforce._OPENER

    class Recording:
        def open(self, request, timeout):
            tag = request.get_header("If-none-match")
            try:
                response = opener.open(request, timeout=timeout)
            except enforce.urllib.error.HTTPError as error:
                seen.append((tag, error.code))
                raise
            seen.append((tag, response.status))
            return response

    monkeypatch.setattr(enforce, "_OPENER", Recording())
    return seen


def test_local_cedar_mode_decides_from_the_signed_bundle_and_polls_with_its_etag(
    live_server, runtime_token, agent, approved, clock, polls
):
    wall = Clock(timezone.now().timestamp())
    pep = enforce.Enforcer(
        live_server.url,
        runtime_token,
        agent.slug,
        policy_url=policy_url(live_server, agent),
        public_key=signing.public_key_pem(),
        poll_seconds=30,
        clock=clock,
        wall_clock=wall,
    )
    assert pep.local
    assert pep.decide("read", "tool", "kb-search").allowed
    assert not pep.decide("write", "tool", "kb-search").allowed
    assert pep.decide("read", "tool", "shell") == enforce.Decision(False, "not_permitted")
    assert not pep.decide("read", "tool", "kb-search", context={"chain_depth": 99}).allowed
    assert polls == [(None, 200)], "one fetch for all four"
    # Past the approval's expiry the held bundle permits nothing, without a new poll.
    wall.now = ApprovalPackage.objects.get(pk=approved.pk).expires_at.timestamp()
    assert not pep.decide("read", "tool", "kb-search").allowed
    wall.now = timezone.now().timestamp()

    clock.now += 30
    assert pep.decide("read", "tool", "kb-search").allowed
    etag = polls[1][0]
    assert etag and polls[1] == (etag, 304)

    suspend(agent)
    assert pep.decide("read", "tool", "kb-search").allowed, "until the next poll"
    clock.now += 30
    assert pep.decide("read", "tool", "kb-search") == enforce.Decision(False, "agent_suspended")
    assert polls[2] == (etag, 200)


def test_local_mode_denies_a_bundle_it_cannot_trust_or_fetch(
    live_server, runtime_token, agent, approved, clock
):
    other_key = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    forged = enforce.Enforcer(
        live_server.url,
        runtime_token,
        agent.slug,
        policy_url=policy_url(live_server, agent),
        public_key=other_key,
        clock=clock,
    )
    assert forged.decide("read", "tool", "kb-search") == enforce.Decision(
        False, "policy_key_untrusted"
    )
    down = enforce.Enforcer(
        live_server.url,
        runtime_token,
        agent.slug,
        policy_url=f"http://127.0.0.1:{closed_port()}/policy",
        clock=clock,
    )
    assert down.decide("read", "tool", "kb-search") == enforce.Decision(False, "policy_unavailable")
    other_agent = enforce.Enforcer(
        live_server.url,
        runtime_token,
        "hr-policy-copilot",
        policy_url=policy_url(live_server, agent),
        clock=clock,
    )
    assert other_agent.decide("read", "tool", "kb-search") == enforce.Decision(
        False, "policy_of_another_agent"
    )


def test_without_cedarpy_it_asks_the_decision_point(
    live_server, runtime_token, agent, approved, monkeypatch
):
    monkeypatch.setattr(enforce, "cedarpy", None)
    pep = enforce.Enforcer(
        live_server.url, runtime_token, agent.slug, policy_url=policy_url(live_server, agent)
    )
    assert not pep.local
    assert pep.decide("read", "tool", "kb-search").allowed


@pytest.fixture
def local_and_remote(live_server, runtime_token, agent, clock):
    """An enforcement point deciding from the bundle (polled when first asked), and one
    asking the decision point."""
    local = enforce.Enforcer(
        live_server.url,
        runtime_token,
        agent.slug,
        policy_url=policy_url(live_server, agent),
        clock=clock,
    )
    remote = enforce.Enforcer(live_server.url, runtime_token, agent.slug, clock=clock)
    assert local.local and not remote.local
    return local, remote


def test_a_bundle_past_its_approval_denies_as_the_decision_point_does(approved, local_and_remote):
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    local, remote = local_and_remote
    expected = enforce.Decision(False, "approval_expired")
    assert local.decide("read", "tool", "kb-search") == expected
    assert remote.decide("read", "tool", "kb-search") == expected


def test_the_tool_reads_the_bundle_format_the_product_writes():
    from runtime import cedar
    from runtime.api import views

    assert (enforce.FORMAT, enforce.NAMESPACE, enforce.ENTITY_TYPES) == (
        cedar.FORMAT,
        cedar.NAMESPACE,
        cedar.ENTITY_TYPES,
    )
    assert enforce.SIGNATURE_HEADER == views.SIGNATURE_HEADER


def test_the_tool_reads_each_claim_where_the_decision_point_does():
    from runtime.requests import CLAIMS

    def places(claims):
        return {name: place for name, (place, _check) in claims.items()}

    assert places(enforce.CLAIMS) == places(CLAIMS)


@pytest.mark.parametrize(
    ("properties", "context"),
    [
        (None, {"chain_depth": -1}),
        (None, {"credential_ttl_seconds": 0}),
        (None, {"credential_method": ""}),
        ({"privileged": "yes"}, None),
        ({"classification": "x" * 65}, None),
        (None, {"privileged": True}),  # made where the decision point does not read it
        ({"chain_depth": 99}, None),
        (None, {"chain_depth": 0.0}),
    ],
)
def test_local_and_remote_decide_a_claim_alike(approved, local_and_remote, properties, context):
    local, remote = local_and_remote
    asked = {"properties": properties, "context": context}
    expected = remote.decide("read", "tool", "kb-search", **asked).allowed
    assert local.decide("read", "tool", "kb-search", **asked).allowed == expected


def test_an_id_cedar_text_would_escape_is_decided_alike(workflow, agent, local_and_remote):
    manifest = manifest_for(agent)
    manifest["scope"]["tools"].append({"id": "o'reilly-lookup", "access": "read"})
    workflow.approve(agent, manifest)
    for enforcer in local_and_remote:
        assert enforcer.decide("read", "tool", "o'reilly-lookup").allowed
        assert not enforcer.decide("write", "tool", "o'reilly-lookup").allowed


def test_a_key_rotation_keeps_an_enforcement_point_given_the_next_key_deciding(
    live_server, runtime_token, agent, approved, clock, settings, monkeypatch
):
    """Given the next key beside the current one, it verifies bundles signed by either."""
    assert enforce.KEY_HEADER == KEY_HEADER
    before = signing.public_key_pem()
    next_key = Ed25519PrivateKey.generate()

    def pep(public_key):
        return enforce.Enforcer(
            live_server.url,
            runtime_token,
            agent.slug,
            policy_url=policy_url(live_server, agent),
            public_key=public_key,
            clock=clock,
        )

    next_pem = next_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    both = pep(before + next_pem.decode())
    assert both.decide("read", "tool", "kb-search").allowed
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "SIGNING_KEY": pem_of(next_key)}
    assert pep([before, next_pem]).decide("read", "tool", "kb-search").allowed
    assert pep(before).decide("read", "tool", "kb-search") == enforce.Decision(
        False, "policy_key_untrusted"
    )

    # A signature that does not hold under a key it trusts is another failure.
    opener = enforce._OPENER

    class Corrupting:
        def open(self, request, timeout):
            response = opener.open(request, timeout=timeout)
            response.headers.replace_header(enforce.SIGNATURE_HEADER, "A" * 88)
            return response

    monkeypatch.setattr(enforce, "_OPENER", Corrupting())
    assert pep(next_pem).decide("read", "tool", "kb-search") == enforce.Decision(
        False, "policy_signature_invalid"
    )


def test_the_readme_dispatcher_runs_as_written(
    live_server, runtime_token, agent, approved, monkeypatch
):
    """The README's tool dispatcher, run as shown: the environment names the server."""
    readme = (SOURCE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("`tools/countersign_enforce.py` is a reference enforcement point", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    monkeypatch.setenv("COUNTERSIGN_URL", live_server.url)
    monkeypatch.setenv("COUNTERSIGN_TOKEN", runtime_token)
    monkeypatch.syspath_prepend(str(SOURCE.parent))
    monkeypatch.delitem(sys.modules, "countersign_enforce", raising=False)
    ran = []
    runtime = {"TOOLS": {"kb-search": lambda query: ran.append(query) or "answer"}}
    exec(compile(example, "README.md", "exec"), runtime)  # noqa: S102 - the README's own code

    def call(access, name, depth=0, **arguments):
        return SimpleNamespace(access=access, name=name, depth=depth, arguments=arguments)

    assert runtime["dispatch"](call("read", "kb-search", query="refunds")) == "answer"
    denied = runtime["dispatch"](call("execute", "shell", command="rm -rf /"))
    assert denied == {"error": "not allowed: scope_mismatch"}
    assert ran == ["refunds"]


@pytest.fixture
def asked(monkeypatch):
    """Record the path of each request the enforcement point sends."""
    seen = []
    opener = enforce._OPENER

    class Recording:
        def open(self, request, timeout):
            seen.append(enforce.urllib.parse.urlsplit(request.full_url).path)
            return opener.open(request, timeout=timeout)

    monkeypatch.setattr(enforce, "_OPENER", Recording())
    return seen


def test_a_deny_the_decision_point_answers_forgets_every_allow_kept(pep, approved, agent, asked):
    """A deny may be the whole agent's (its kill switch, its expiry): once one is seen, no
    allow kept from before it is used."""
    assert pep.decide("read", "tool", "kb-search").allowed
    suspend(agent)
    assert pep.decide("read", "tool", "kb-search").allowed, "kept, while no deny is seen"
    suspended = enforce.Decision(False, "agent_suspended")
    assert pep.decide("read", "tool", "zendesk") == suspended
    assert len(asked) == 2
    assert pep.decide("read", "tool", "kb-search") == suspended
    assert len(asked) == 3, "the kept allow was forgotten: asked again"


def test_a_deny_of_one_entry_keeps_the_allows_of_the_others(pep, approved, agent, clock, asked):
    """A runtime asking about an entry beyond the approved scope (a tool never approved, a
    higher access, a claim beyond the entry) is denied that entry alone: the agent stands,
    and what it was allowed stays kept for `allow_ttl`."""
    assert pep.decide("read", "tool", "kb-search").allowed
    mismatch = enforce.Decision(False, "scope_mismatch")
    assert pep.decide("execute", "tool", "shell") == mismatch
    assert pep.decide("admin", "tool", "kb-search") == mismatch
    assert pep.decide("read", "tool", "kb-search", context={"chain_depth": 99}) == mismatch
    assert len(asked) == 4
    clock.now += 29.9
    assert pep.decide("read", "tool", "kb-search").allowed
    assert len(asked) == 4, "kept across the entry's denies: not asked again"
    clock.now += 0.1
    assert pep.decide("read", "tool", "kb-search").allowed
    assert len(asked) == 5, "asked again once its TTL is over"


ALLOW = (200, {"decision": True})


def deny(reason, reasons=None):
    context = {"reason": reason, "reasons": [reason] if reasons is None else reasons}
    return (200, {"decision": False, "context": context})


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (deny("agent_suspended"), "agent_suspended"),
        (deny("approval_expired"), "approval_expired"),
        (deny("a_code_it_does_not_know"), "a_code_it_does_not_know"),
        ((200, {"decision": False}), "denied"),
        (deny("scope_mismatch", ["scope_mismatch", "agent_suspended"]), "scope_mismatch"),
        (deny("scope_mismatch", "scope_mismatch"), "scope_mismatch"),
        (deny("scope_mismatch", [["scope_mismatch"]]), "scope_mismatch"),
        ((401, {"decision": False}), "http_401"),
        ((403, {"decision": False}), "http_403"),
    ],
)
def test_any_other_deny_or_a_refused_token_forgets_every_allow_kept(answer, reason):
    """Only a deny whose every reason is an entry's keeps the allows: another code, one the
    tool does not know, none, or the token refused forgets them all."""
    server = FakeServer()
    server.routes["/access/v1/evaluation"] = [ALLOW, answer, ALLOW]
    with server:
        pep = enforce.Enforcer(server.url, "cs_x", "support-assistant", clock=Clock())
        assert pep.decide("read", "tool", "kb-search").allowed
        assert pep.decide("read", "tool", "zendesk") == enforce.Decision(False, reason)
        assert pep.decide("read", "tool", "kb-search").allowed
    assert len(server.requests) == 3, "the kept allow was forgotten: asked again"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((500, {"decision": False}), "http_500"),
        ((503, b"busy"), "http_503"),
        ((429, {"detail": "slow down"}), "http_429"),
        ((200, b"not json"), "bad_response"),
        ((200, {"answer": "yes"}), "bad_response"),
        ("drop", "unreachable"),
    ],
)
def test_an_answer_that_says_nothing_of_the_agent_denies_its_call_alone(answer, reason):
    """The server down, slow, throttling or answering another shape denies the call it
    answered; the allows kept stay until their TTL, so a throttled runtime does not ask
    more for being throttled."""
    server = FakeServer()
    server.routes["/access/v1/evaluation"] = [ALLOW, answer]
    with server:
        pep = enforce.Enforcer(server.url, "cs_x", "support-assistant", clock=Clock())
        assert pep.decide("read", "tool", "kb-search").allowed
        assert pep.decide("read", "tool", "zendesk") == enforce.Decision(False, reason)
        assert pep.decide("read", "tool", "kb-search").allowed
    assert len(server.requests) == 2, "the kept allow was asked again"


def test_an_entry_deny_from_any_server_keeps_the_allows():
    server = FakeServer()
    server.routes["/access/v1/evaluation"] = [ALLOW, deny("scope_mismatch"), ALLOW]
    with server:
        pep = enforce.Enforcer(server.url, "cs_x", "support-assistant", clock=Clock())
        assert pep.decide("read", "tool", "kb-search").allowed
        assert not pep.decide("read", "tool", "shell").allowed
        assert pep.decide("read", "tool", "kb-search").allowed
    assert len(server.requests) == 2


def test_the_entry_codes_are_the_decision_points():
    """The tool keeps allows across a deny carrying only these codes; the decision point
    defines them (`runtime.decision.ENTRY_REASONS`): the copies are held equal, and none
    is a code the decision point gives about the agent."""
    from approvals.gate_vocabulary import GateReason
    from runtime import decision

    assert enforce.ENTRY_REASONS == {code.value for code in decision.ENTRY_REASONS}
    assert enforce.ENTRY_REASONS <= set(GateReason.values)
    assert enforce.ENTRY_REASONS <= set(decision.OWN_REASONS)
    assert not enforce.ENTRY_REASONS & set(decision.STANDING_REASONS)


def test_an_allow_answered_while_another_thread_saw_a_deny_is_not_kept(
    pep, approved, agent, monkeypatch
):
    """A call asked before the kill switch, answered after another call was denied for it,
    runs (it was allowed when asked) but is not kept for the calls after it."""
    opener, answered, denied = enforce._OPENER, threading.Event(), threading.Event()

    class Slow:
        def open(self, request, timeout):
            response = opener.open(request, timeout=timeout)
            if threading.current_thread() is not threading.main_thread():
                answered.set()
                assert denied.wait(30)
            return response

    monkeypatch.setattr(enforce, "_OPENER", Slow())
    asked = []
    before = threading.Thread(target=lambda: asked.append(pep.decide("read", "tool", "kb-search")))
    before.start()
    assert answered.wait(30)
    suspend(agent)
    assert not pep.decide("read", "tool", "kb-search", context={"chain_depth": 0}).allowed
    denied.set()
    before.join(30)
    assert asked == [enforce.Decision(True)]
    assert pep.decide("read", "tool", "kb-search") == enforce.Decision(False, "agent_suspended")


def test_a_clock_set_back_keeps_no_allow_and_no_bundle(
    pep, live_server, runtime_token, approved, agent, clock
):
    """A clock that steps back (a wall clock given as `clock`, a restored VM) does not stretch
    a kept allow or a held bundle past its time."""
    local = enforce.Enforcer(
        live_server.url,
        runtime_token,
        agent.slug,
        policy_url=policy_url(live_server, agent),
        clock=clock,
    )
    assert pep.decide("read", "tool", "kb-search").allowed
    assert local.decide("read", "tool", "kb-search").allowed
    suspend(agent)
    clock.now -= 3600
    suspended = enforce.Decision(False, "agent_suspended")
    assert pep.decide("read", "tool", "kb-search") == suspended
    assert local.decide("read", "tool", "kb-search") == suspended


@pytest.mark.parametrize("public_key", ["", b"", [], "not a key"])
def test_an_empty_or_unreadable_public_key_refuses_to_start_rather_than_trust_any_bundle(
    live_server, runtime_token, agent, public_key
):
    """An unset variable read as `public_key=os.environ.get(..., "")` must not turn signature
    checks off: only None means unsigned bundles."""
    with pytest.raises(ValueError, match="no PEM public key given"):
        enforce.Enforcer(
            live_server.url,
            runtime_token,
            agent.slug,
            policy_url=policy_url(live_server, agent),
            public_key=public_key,
        )


@pytest.mark.parametrize("public_key", [ec_public_pem(), unknown_key_type_pem()])
def test_a_public_key_of_another_type_refuses_to_start(
    live_server, runtime_token, agent, public_key
):
    with pytest.raises(ValueError, match="the public key is (not an Ed25519 key|of no known type)"):
        enforce.Enforcer(
            live_server.url,
            runtime_token,
            agent.slug,
            policy_url=policy_url(live_server, agent),
            public_key=public_key,
        )


def test_the_gate_client_bounds_its_requests_with_the_same_code():
    """Each tool runs alone, so each carries the connection whose timeout is a deadline:
    the two copies are held equal."""

    def deadline_code(path):
        text = path.read_text(encoding="utf-8")
        start = text.index("class _DeadlineHTTPConnection")
        return text[start : text.index("\n_OPENER = ", start)]

    assert deadline_code(SOURCE) == deadline_code(SOURCE.parent / "countersign-gate")
