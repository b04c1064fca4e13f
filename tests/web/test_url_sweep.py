"""Every URL the product serves has its access decided: swept here, or public with a reason.

The sweep asks for the objects of one agent (support-assistant, team customer-care)
as people who must not reach them and as people who see the agent without a role
on it, by every method its view answers, and expects the exact status
(docs/design.md "Rules", docs/api.md "Authentication and scopes"):

- anonymous; a product owner of an unrelated agent of another team (stranger);
  a member of that other team with no group (other-member): the agent is hidden
  from them, so its objects are 404 (401 or the sign-in page when anonymous);
- a member of the agent's team with no group (teammate), a reviewer of each
  dimension who is not the one assigned to the agent, a compliance officer: they
  see the agent and its packages (reviewers and compliance officers see every
  agent by design) and change nothing their role does not allow;
- tokens: the stranger's, with every scope its role grants; one of the agent's
  owner bound to another agent (elsewhere); one of the owner's with only
  gate:check (narrow). A bound token reaches only its agents (404), a missing
  scope is 403.

Each request runs in a savepoint rolled back after it, so every one meets the same
state; an answer below 300 to a refused person, or an audit event that the table
does not expect, fails. A pattern neither in SWEPT nor in PUBLIC fails the
coverage test: a new URL cannot be added without its access being decided here.
"""

from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from approvals.comments import comment_create
from approvals.emergency import emergency_request
from audit.actors import Actor
from audit.models import AuditEvent
from audit.verification import verification_request
from config.roles import Scope
from signoffs.models import Dimension
from tests.approvals.delegation import away
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory, manifest_for

ANON, STRANGER, OTHER_MEMBER, TEAMMATE, AUDITOR = (
    "anon",
    "stranger",
    "other-member",
    "teammate",
    "auditor",
)
REVIEWERS = tuple(Dimension.values)
INSIDE = (TEAMMATE, *REVIEWERS, AUDITOR)
SESSIONS = (ANON, STRANGER, OTHER_MEMBER, *INSIDE)
TOK_STRANGER, TOK_ELSEWHERE, TOK_NARROW = "token-stranger", "token-elsewhere", "token-narrow"
TOKENS = (TOK_STRANGER, TOK_ELSEWHERE, TOK_NARROW)
# Who must never read the agent's data in an answer, whatever its status.
HIDDEN_FROM = (STRANGER, OTHER_MEMBER, TOK_STRANGER, TOK_ELSEWHERE)
SECRET_COMMENT = "Refund limits look too wide to the team."
# Stands for the agent's reference manifest in a probe's body.
MANIFEST = "the agent's manifest"
# The "Show earlier" link of the package's threads, before the newest.
EARLIER = "the threads before the newest"

# Patterns anyone may reach, with why: none of them names or returns an object of a user.
PUBLIC = {
    "login": "the sign-in form",
    "logout": "ends the caller's own session",
    "oidc-sign-in": "starts single sign-on at the provider (404 while it is off)",
    "oidc-callback": "the provider's redirect back, checked against the flow's state",
    "api-schema": "the OpenAPI schema: the contract, no data",
    "api-docs": "the page showing the OpenAPI schema",
    "api-manifest-schema": "the manifest's JSON Schema, no data",
    "authzen-configuration": "the AuthZEN discovery document, no data",
    "api/v1/^(?P<rest>[\\s\\S]*)\\Z": "every unknown path under /api/v1/, a JSON 404",
}


# Operations of a DRF view that the sweep does not send, and the module holding their rules:
# they create the caller's own objects, not another's.
COVERED_ELSEWHERE = {
    ("api-agent-list", "post"): "tests/api/test_role_matrix.py (registering in a team)",
    ("api-token-list", "post"): "tests/api/test_tokens_api.py (binding to agents one owns)",
    ("api-absence-list", "post"): "tests/api/test_absences_api.py (setting one's own absence)",
}


@dataclass
class Probe:
    """One request (`method`, `body`) and the status each actor gets; the audit actions a
    success writes, by actor (none otherwise)."""

    method: str
    expect: dict
    body: dict | None = None
    events: dict = field(default_factory=dict)
    version: int = 2


def _statuses(inside, *, anon, hidden, tokens=None) -> dict:
    """Return {actor: status}; `inside` is one status for every insider, or a dict with "*"."""
    inside = inside if isinstance(inside, dict) else {"*": inside}
    expect = {ANON: anon, STRANGER: hidden, OTHER_MEMBER: hidden}
    expect.update({actor: inside.get(actor, inside["*"]) for actor in INSIDE})
    expect.update(tokens or {})
    return expect


def page(method, inside, body=None, *, hidden=404, anon=302, **kwargs) -> Probe:
    """A request to a page: anonymous goes to the sign-in page, strangers meet `hidden`."""
    return Probe(method, _statuses(inside, anon=anon, hidden=hidden), body, **kwargs)


def endpoint(method, inside, body=None, *, hidden=404, owner_scope=True, **kwargs) -> Probe:
    """A request to the API. `owner_scope`: a product owner's token carries the scope it
    needs, so the stranger's and the elsewhere-bound tokens meet the hidden agent (404);
    else they lack it (403). The narrow token lacks every scope but gate:check."""
    theirs = hidden if owner_scope else 403
    tokens = {TOK_STRANGER: theirs, TOK_ELSEWHERE: theirs, TOK_NARROW: 403}
    expect = _statuses(inside, anon=401, hidden=hidden, tokens=tokens)
    return Probe(method, expect, body, **kwargs)


def session_only(method, status) -> Probe:
    """A request to an API of the signed-in person's own (tokens): no token is let in."""
    tokens = dict.fromkeys(TOKENS, 403)
    return Probe(method, _statuses(status, anon=401, hidden=status, tokens=tokens))


def but(probe, statuses) -> Probe:
    """Return the probe with these actors' statuses changed."""
    probe.expect.update(statuses)
    return probe


def handled(body, action) -> Probe:
    """Handle the finding through the API: any security reviewer may (docs/design.md rule 3)."""
    expect = {"*": 403, "security": 200}
    return endpoint("post", expect, body, owner_scope=False, events={"security": [action]})


def _by(actors, actions) -> dict:
    return dict.fromkeys(actors, actions)


AUDIT_ONLY = {"hidden": 403, "owner_scope": False}
# The audit trail's readers: compliance reviewers and officers (config/roles.py).
READERS = {"compliance": 200, AUDITOR: 200}
STOP = {"reason": "Incident 42.", "step": "confirm"}
SUSPENDED = ["package.revoked", "agent.suspended"]
KILL_SWITCH = ("pam", "security")
COMMENTED = _by(INSIDE, ["comment.created"])
GATE = {"agent": "support-assistant", "digest": "0" * 64}
EVALUATION = {
    "subject": {"type": "agent", "id": "support-assistant"},
    "action": {"name": "read"},
    "resource": {"type": "tool", "id": "kb-search"},
}
OBSERVATION = {"items": [{"kind": "tool", "identifier": "kb-search", "access": "read"}]}
DECISION = {"iam-verdict": "request_changes", "iam-comment": "Narrow it."}
EVERYONE_SIGNED_IN = (STRANGER, OTHER_MEMBER, *INSIDE)
# The decision point takes tokens only; an unbound one is answered about any agent, a bound
# one is answered (a deny) for other agents (docs/api.md).
DECISION_POINT = {
    **dict.fromkeys(SESSIONS, 401),
    TOK_STRANGER: 200,
    TOK_ELSEWHERE: 200,
    TOK_NARROW: 403,
}

SWEPT = {
    # The signed-in person's own pages: nobody reads another's objects there.
    "step-up": [page("get", 200, hidden=200)],
    "dashboard": [page("get", 200, hidden=200), page("post", 405, hidden=405, anon=405)],
    "agent-list": [page("get", 200, hidden=200)],
    "package-list": [page("get", 200, hidden=200)],
    "token-list": [page("get", 200, hidden=200)],
    "audit-log": [page("get", 200, hidden=200)],
    "agent-new": [but(page("get", 403, hidden=403), {STRANGER: 200})],
    "my-absence": [page("get", {"*": 200, TEAMMATE: 403, AUDITOR: 403}, hidden=403)],
    "staff-users": [page("get", 403, hidden=403)],
    "staff-left-behind": [page("get", 403, hidden=403), page("post", 405, hidden=405, anon=405)],
    "staff-user-edit": [page("get", 403, hidden=403), page("post", 403, hidden=403)],
    # The world's run is under way: an audit reader's request is shown it, not a new one.
    "audit-verify": [but(page("post", 403, hidden=403), {"compliance": 302, AUDITOR: 302})],
    "audit-verification": [but(page("get", 403, hidden=403), READERS)],
    "audit-export-csv": [but(page("get", 403, hidden=403), READERS)],
    "audit-export-jsonl": [but(page("get", 403, hidden=403), READERS)],
    # Another person's absence and token.
    "absence-end": [page("post", 404)],
    "token-revoke": [page("post", 404)],
    # The agent's pages.
    "agent-detail": [page("get", 200), page("post", 405, hidden=405, anon=405)],
    "agent-edit": [page("get", 403), page("post", 403, {"name": "Taken"})],
    "agent-suspend": [
        page("get", {"*": 403, "pam": 200, "security": 200}),
        page(
            "post",
            {"*": 403, "pam": 302, "security": 302},
            STOP,
            events=_by(KILL_SWITCH, SUSPENDED),
        ),
    ],
    "agent-narrow": [page("get", 403), page("post", 403)],
    "agent-retire": [page("get", 403), page("post", 403, STOP)],
    "agent-reviewers": [page("get", 403), page("post", 403, {"user": "iam2"})],
    "agent-reviewer-unassign": [page("post", 403, {"user": "iam1"})],
    "agent-signoff-reassign": [page("post", 403, {"reassign-user": "iam2"})],
    "finding-handle": [
        page("get", {"*": 403, "security": 200}),
        page(
            "post",
            {"*": 403, "security": 302},
            {"action": "resolve", "text": "Removed."},
            events={"security": ["drift.resolved"]},
        ),
    ],
    "package-new": [page("get", 403), page("post", 403)],
    "package-upload": [page("post", 403, {"manifest_text": "agent: support-assistant"})],
    "package-detail": [page("get", 200), page("post", 405, hidden=405, anon=405)],
    "package-edit": [page("get", 403, version=3), page("post", 403, version=3)],
    "package-submit": [page("post", 403, version=3)],
    "package-comment": [page("post", 302, {"thread": "new", "body": "Seen."}, events=COMMENTED)],
    "package-comments-earlier": [page("get", 200, EARLIER)],
    "package-clone": [page("post", 403)],
    "package-decide": [page("post", 403, DECISION)],
    "package-emergency": [page("get", 403), page("post", 403, {"reason": "Urgent."})],
    "package-emergency-approve": [page("post", 403)],
    # The API: the release gate and the decision point answer about any agent (docs/api.md).
    "api-gate-check": [
        Probe(
            "post",
            _statuses(200, anon=401, hidden=200, tokens=dict.fromkeys(TOKENS, 200)),
            GATE,
            _by((*EVERYONE_SIGNED_IN, *TOKENS), ["gate.checked"]),
        )
    ],
    "authzen-evaluation": [Probe("post", DECISION_POINT, EVALUATION)],
    "authzen-evaluations": [Probe("post", DECISION_POINT, {**EVALUATION, "evaluations": [{}]})],
    "api-packages": [endpoint("get", 200, hidden=200)],
    "api-agent-list": [endpoint("get", 200, hidden=200)],
    "api-agent-detail": [endpoint("get", 200), endpoint("patch", 403, {"description": "x"})],
    "api-agent-observations": [endpoint("post", 403, OBSERVATION)],
    "api-agent-usage": [endpoint("get", 200)],
    "api-agent-narrow": [endpoint("post", 403, {})],
    "api-agent-retire": [endpoint("post", 403, {"reason": "Replaced."})],
    "api-agent-suspend": [
        endpoint(
            "post",
            {"*": 403, "pam": 200, "security": 200},
            {"reason": "Incident 42."},
            owner_scope=False,
            events=_by(KILL_SWITCH, SUSPENDED),
        )
    ],
    "api-agent-policy": [endpoint("get", 200)],
    "api-package-list": [endpoint("get", 200), endpoint("post", 403, MANIFEST)],
    "api-package-detail": [endpoint("get", 200)],
    "api-package-submit": [endpoint("post", 403, {}, version=3)],
    "api-package-diff": [endpoint("get", 200)],
    "api-package-evidence": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    "api-package-comments": [
        endpoint("get", 200),
        endpoint("post", 201, {"body": "Seen."}, events=COMMENTED),
    ],
    "api-emergency": [endpoint("get", 200), endpoint("post", 403, {"reason": "Urgent."})],
    "api-emergency-approve": [endpoint("post", 403, {"dimension": "security"}, owner_scope=False)],
    "api-decision-create": [
        endpoint("post", 403, {"verdict": "request_changes", "comment": "x"}, owner_scope=False)
    ],
    "api-signoff-reassign": [
        endpoint("post", 403, {"user": "iam2", "reason": "Away."}, owner_scope=False)
    ],
    "api-finding-list": [endpoint("get", 200)],
    "api-finding-detail": [endpoint("get", 200)],
    "api-finding-acknowledge": [handled({"note": "Seen."}, "drift.acknowledged")],
    "api-finding-resolve": [handled({"resolution": "Gone."}, "drift.resolved")],
    "api-audit-events": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    "api-audit-verify": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    "api-audit-export-csv": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    "api-audit-export-jsonl": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    "api-audit-checkpoints": [but(endpoint("get", 403, **AUDIT_ONLY), READERS)],
    # The key that verifies checkpoints, evidence and policy bundles: anyone signed in, a
    # token that reads the trail or the bundles (a product owner's decisions:evaluate).
    "api-audit-public-key": [
        Probe(
            "get",
            _statuses(
                200, anon=401, hidden=200, tokens={**dict.fromkeys(TOKENS, 200), TOK_NARROW: 403}
            ),
        )
    ],
    # The signed-in person's own tokens and absences: another's are 404.
    "api-token-list": [session_only("get", 200)],
    "api-token-detail": [session_only("delete", 404)],
    "api-token-revoke": [session_only("post", 404)],
    "api-absence-list": [endpoint("get", 200, hidden=200)],
    "api-absence-detail": [endpoint("delete", 404, owner_scope=False)],
}


def _patterns(resolver=None, prefix=""):
    """Yield (route, pattern) of every URL pattern but the admin's."""
    for item in (resolver or get_resolver()).url_patterns:
        route = prefix + str(item.pattern)
        if isinstance(item, URLResolver):
            if not route.startswith("admin/"):
                yield from _patterns(item, route)
        elif isinstance(item, URLPattern):
            yield route, item


def _key(route, pattern) -> str:
    return pattern.name or route


def _api_methods(pattern) -> set[str]:
    """Return the methods a DRF view answers beside OPTIONS and HEAD; empty for other views."""
    actions = getattr(pattern.callback, "actions", None)
    if actions is not None:
        return set(actions) - {"head", "options"}
    cls = getattr(pattern.callback, "cls", None)
    if cls is None or not hasattr(cls, "http_method_names"):
        return set()
    return {m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}


def test_every_url_pattern_has_its_access_decided():
    served = {_key(route, pattern): pattern for route, pattern in _patterns()}
    undecided = sorted(set(served) - set(SWEPT) - set(PUBLIC))
    assert not undecided, f"Sweep these patterns in SWEPT or list them in PUBLIC: {undecided}"
    stale = sorted((set(SWEPT) | set(PUBLIC)) - set(served))
    assert not stale, f"No such URL patterns: {stale}"
    assert not set(SWEPT) & set(PUBLIC)
    unswept = sorted(
        (name, method)
        for name, probes in SWEPT.items()
        for method in _api_methods(served[name]) - {probe.method for probe in probes}
        if (name, method) not in COVERED_ELSEWHERE
    )
    assert not unswept, f"Methods these views answer that the sweep sends nothing: {unswept}"


@pytest.fixture
def world(workflow, agent, owner, other_owner, reviewers, make_token):
    """The agent with an approved v1, v2 in review with an emergency asked, a draft v3, a
    finding, a comment; an absence, a verification run and a token of others; the actors."""
    hr = AgentFactory(slug="hr-policy-copilot", team="people", owners=[other_owner])
    billing = AgentFactory(slug="billing-bot", owners=[owner])
    workflow.approve(agent)
    for dimension in REVIEWERS:
        assign_perm(f"agents.review_{dimension}", reviewers[dimension][0], agent)
    in_review = workflow.submit(agent)
    emergency_request(actor=Actor.for_user(owner), package=in_review, reason="Refunds fail.")
    workflow.create(agent)
    comment_create(actor=Actor.for_user(owner), package=in_review, body=SECRET_COMMENT)
    newest = comment_create(actor=Actor.for_user(owner), package=in_review, body="Later.")
    finding = DriftFindingFactory(agent=agent, package=in_review)
    auditor = UserFactory(username="auditor", groups=["compliance-officer"])
    teammate = UserFactory(username="teammate")
    agent.team.members.add(teammate)
    other_member = UserFactory(username="other-member")
    hr.team.members.add(other_member)
    stand_in = UserFactory(username="iam3", groups=["iam"])
    absence = away(reviewers["iam"][0], stand_in, "iam")
    run, _ = verification_request(actor=Actor.for_user(auditor))
    own_token, _ = make_token(owner, Scope.GATE_CHECK, name="owner-ci")
    people = {
        ANON: None,
        STRANGER: other_owner,
        OTHER_MEMBER: other_member,
        TEAMMATE: teammate,
        AUDITOR: auditor,
        **{dimension: reviewers[dimension][1] for dimension in REVIEWERS},
    }
    clients = {}
    for actor, user in people.items():
        clients[actor] = APIClient()
        if user is not None:
            clients[actor].force_login(user)
    for actor, (user, scopes, bound) in {
        TOK_STRANGER: (other_owner, (), ()),
        TOK_ELSEWHERE: (owner, (), [billing]),
        TOK_NARROW: (owner, (Scope.GATE_CHECK,), ()),
    }.items():
        _, secret = make_token(user, *scopes, agents=bound)
        clients[actor] = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    ids = {
        "slug": agent.slug,
        "a": 1,
        "b": 2,
        "prefix": own_token.prefix,
        "finding": finding.pk,
        "absence": absence.pk,
        "run": run.pk,
        "user": owner.pk,
        "newest_thread": newest.pk,
    }
    markers = (SECRET_COMMENT, agent.workload_id, own_token.prefix)
    return clients, ids, markers, manifest_for(agent)


def _kwargs(pattern, probe, ids) -> dict:
    """Return the URL arguments naming the world's objects."""
    names = set(pattern.pattern.converters) | set(pattern.pattern.regex.groupindex)
    pk = {"absence": "absence", "verif": "run", "staff": "user"}
    values = {
        "slug": ids["slug"],
        "version": probe.version,
        "a": ids["a"],
        "b": ids["b"],
        "prefix": ids["prefix"],
        "dimension": "security" if "emergency" in pattern.name else "iam",
        "pk": next((ids[v] for k, v in pk.items() if k in pattern.name), ids["finding"]),
    }
    return {name: values[name] for name in names}


def _ask(client, probe, url, body):
    if url.startswith(("/api/", "/access/")):
        return getattr(client, probe.method)(url, body, format="json")
    return getattr(client, probe.method)(url, body or {})


def _read(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_sweep(world):
    clients, ids, markers, manifest = world
    served = {_key(route, pattern): pattern for route, pattern in _patterns()}
    wrong = []
    for name, probes in SWEPT.items():
        pattern = served[name]
        for probe in probes:
            url = reverse(name, kwargs=_kwargs(pattern, probe, ids))
            body = probe.body
            if body == MANIFEST:
                body = manifest
            elif body == EARLIER:
                body = {"of": "package", "before": ids["newest_thread"]}
            for actor, expected in probe.expect.items():
                cache.clear()  # the API's rate limits count in the cache
                last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
                with transaction.atomic():
                    savepoint = transaction.savepoint()
                    response = _ask(clients[actor], probe, url, body)
                    events = list(
                        AuditEvent.objects.filter(seq__gt=last or 0)
                        .order_by("seq")
                        .values_list("action", flat=True)
                    )
                    text = _read(response)
                    transaction.savepoint_rollback(savepoint)
                status = response.status_code
                allowed = expected < 400
                told = [m for m in markers if m in text] if actor in HIDDEN_FROM else []
                written = probe.events.get(actor, []) if allowed else []
                if status != expected or told or events != written:
                    wrong.append(
                        f"{probe.method.upper()} {url} as {actor}: {status} (expected "
                        f"{expected}), events {events} (expected {written})"
                        + (f", shows {told}" if told else "")
                    )
    assert not wrong, "\n".join(wrong)
