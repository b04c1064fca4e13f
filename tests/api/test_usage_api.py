"""GET /agents/{slug}/usage and POST /agents/{slug}/narrow: usage per approved entry, and
a draft that keeps only what was used, whose sign-offs carry over on submission."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.observations import observations_record
from approvals.models import PackageState
from approvals.services import package_submit
from audit.actors import Actor
from signoffs.models import SignOffState
from tests.api.conftest import error_of
from tests.factories import AgentFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
USED = ["ticket.create", "refund.issue"]  # of the reference manifest's actions


def used(agent, *identifiers, kind="action", access="read", days_ago=0, **extra):
    seen = (timezone.now() - timedelta(days=days_ago)).isoformat()
    items = [
        {"kind": kind, "identifier": i, "access": access, "seen_at": seen, **extra}
        for i in identifiers
    ]
    observations_record(actor=SYSTEM, agent=agent, items=items, decisions="denies" in extra)


def test_usage_per_approved_entry(api, owner, agent, approved):
    used(agent, *USED, count=3)
    used(agent, "zendesk", kind="tool", access="admin", count=2, denies=2)
    body = api(owner).get(f"/api/v1/agents/{agent.slug}/usage").json()
    assert body["agent"] == agent.slug and body["package_version"] == approved.version
    by_id = {entry["id"]: entry for entry in body["entries"]}
    assert len(by_id) == approved.entries.count()
    ticket = by_id["ticket.create"]
    assert ticket["uses_30d"] == ticket["uses_90d"] == 3 and not ticket["never_used"]
    assert ticket["last_used"] == timezone.now().date().isoformat()
    assert ticket["highest_access_90d"] == "read" and ticket["access"] == "write"
    assert by_id["kb-search"]["never_used"] and by_id["kb-search"]["last_used"] is None
    assert by_id["kb-search"]["highest_access_90d"] is None
    # An admin use of zendesk is not what its write entry allows: it is outside the scope.
    assert by_id["zendesk"]["denies_90d"] == 0
    (outside,) = body["outside_scope"]
    assert (outside["id"], outside["access"], outside["denies_30d"]) == ("zendesk", "admin", 2)
    assert outside["highest_access_90d"] is None  # denied, never used


def test_usage_without_an_approval_lists_every_use_outside(api, owner, agent):
    used(agent, "ticket.create")
    body = api(owner).get(f"/api/v1/agents/{agent.slug}/usage").json()
    assert body["package_version"] is None and body["entries"] == []
    assert [use["id"] for use in body["outside_scope"]] == ["ticket.create"]


def test_usage_follows_the_agent_read_rules(api, owner, other_owner, agent, make_token):
    path = f"/api/v1/agents/{agent.slug}/usage"
    assert api(other_owner).get(path).status_code == 404
    elsewhere = AgentFactory(owners=[owner])
    assert api(owner, agents=[elsewhere]).get(path).status_code == 404
    assert api(owner, Scope.PACKAGES_WRITE).get(path).status_code == 403
    assert api(owner, Scope.AGENTS_READ, agents=[agent]).get(path).status_code == 200
    assert api(owner).get("/api/v1/agents/no-such-agent/usage").status_code == 404


def test_the_usage_query_count_does_not_grow_with_rows(api, owner, agent, approved):
    client = api(owner)
    path = f"/api/v1/agents/{agent.slug}/usage"
    used(agent, "ticket.create")
    client.get(path)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    for days_ago in range(0, 90, 3):
        used(agent, *USED, days_ago=days_ago)
        used(agent, f"unknown-{days_ago}", kind="tool", days_ago=days_ago)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)
    assert len(response.json()["outside_scope"]) == 30
    assert len(many) == len(few)


def test_narrow_drafts_the_used_entries_and_its_submission_carries_over(
    api, owner, agent, approved, audit_since
):
    used(agent, "ticket.create", access="write")  # as approved: kept
    used(agent, "refund.issue")  # approved to execute, used to read and write: lowered to write
    used(agent, "refund.issue", access="write", days_ago=60)
    used(agent, "kb-search", kind="tool", days_ago=120)  # older than the window: removed
    client = api(owner, Scope.PACKAGES_WRITE)
    since = audit_since()
    response = client.post(f"/api/v1/agents/{agent.slug}/narrow", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft" and body["version"] == approved.version + 1
    scope = body["manifest"]["scope"]
    assert {e["id"]: e["access"] for e in scope["actions"]} == {
        "ticket.create": "write",
        "refund.issue": "write",
    }
    refund = next(e for e in scope["actions"] if e["id"] == "refund.issue")
    assert refund["constraints"] == {"max_amount_eur": 50, "requires_human_approval_above_eur": 20}
    assert all(scope[key] == [] for key in scope if key != "actions")
    # Every field but the scope is as approved.
    rest = {k: v for k, v in body["manifest"].items() if k != "scope"}
    assert rest == {k: v for k, v in approved.manifest.items() if k != "scope"}
    (narrowed,) = [e for e in since() if e.action == "package.narrowed"]
    assert narrowed.actor_label == owner.username
    assert narrowed.data["from_version"] == approved.version and narrowed.data["kept"] == 2
    assert {"kind": "tool", "id": "kb-search"} in narrowed.data["removed"]
    assert narrowed.data["lowered"] == [
        {"kind": "action", "id": "refund.issue", "from": "execute", "to": "write"}
    ]
    assert [e.action for e in since()] == ["package.created", "package.narrowed"]

    draft = agent.packages.get(version=body["version"])
    package_submit(actor=Actor.for_user(owner), package=draft)
    draft.refresh_from_db()
    assert draft.state == PackageState.APPROVED and draft.carried_over
    assert set(draft.signoffs.values_list("state", flat=True)) == {SignOffState.CARRIED_OVER}


def use_every_entry(agent, approved, lower: str = ""):
    """Use every approved entry at its access; `lower`'s entry only at read."""
    for key, entries in approved.manifest["scope"].items():
        for entry in entries:
            access = "read" if entry["id"] == lower else entry["access"]
            used(agent, entry["id"], kind=key[:-1], access=access)


@pytest.mark.parametrize(
    ("uses", "code"),
    [
        ("all", "nothing_to_narrow"),
        ("none", "empty_scope"),
    ],
)
def test_narrow_refuses_what_would_not_narrow(api, owner, agent, approved, uses, code):
    if uses == "all":
        use_every_entry(agent, approved)
    response = api(owner).post(f"/api/v1/agents/{agent.slug}/narrow", {}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == code
    assert agent.packages.count() == 1


def test_narrow_lowers_access_alone_when_every_entry_was_used(api, owner, agent, approved):
    use_every_entry(agent, approved, lower="zendesk")
    response = api(owner).post(f"/api/v1/agents/{agent.slug}/narrow", {}, format="json")
    assert response.status_code == 201, response.content
    draft = agent.packages.get(version=response.json()["version"])
    before = dict(approved.entries.values_list("identifier", "access"))
    after = dict(draft.entries.values_list("identifier", "access"))
    assert after == {**before, "zendesk": "read"} and before["zendesk"] == "write"


def test_narrow_needs_an_approval_and_takes_no_fields(api, owner, agent):
    client = api(owner)
    response = client.post(f"/api/v1/agents/{agent.slug}/narrow", {}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "no_approved_package"
    response = client.post(f"/api/v1/agents/{agent.slug}/narrow", [1], format="json")
    assert response.status_code == 400
