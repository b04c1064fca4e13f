"""The pages' heavy reads are served by an index, whatever the volume.

A test database is too small for the planner to prefer an index on its own, so
each plan is taken with sequential scans priced out (`enable_seqscan = off`):
the plan then shows whether an index serves the read as it is asked, or the
rows must be sorted after they are found.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalPackage, PackageState
from approvals.services import agent_suspend
from audit.actors import Actor, ActorType
from audit.filters import AuditEventFilterSet
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory
from tokens.models import Scope
from web import charts, selectors

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """Return PostgreSQL's plan of the queryset, sequential scans priced out for this
    transaction only."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def test_the_dashboards_open_findings_are_walked_in_order_not_sorted(staff, owner):
    now = timezone.now()
    for n in range(3):
        agent = AgentFactory(slug=f"seen-agent-{n}", owners=[owner])
        for status in ("open", "resolved"):
            DriftFindingFactory(
                agent=agent,
                identifier=f"tool-{n}-{status}",
                status=status,
                last_seen=now - timedelta(hours=n),
            )
    text = plan(selectors.drift_open(staff)[:20])
    assert "approvals_d_status_cb4f61_idx" in text
    assert "Sort" not in text, text


def test_the_packages_list_is_walked_newest_first_not_sorted(staff, owner):
    for n in range(3):
        agent = AgentFactory(slug=f"packaged-agent-{n}", owners=[owner])
        for version in (1, 2):
            ApprovalPackage.objects.create(
                agent=agent,
                version=version,
                state=PackageState.DRAFT,
                manifest={},
                digest="a" * 64,
                risk_tier="low",
                created_by=owner,
            )
    text = plan(selectors.packages_list(staff)[:25])
    assert "approvals_a_created_1ada50_idx" in text
    assert "Sort" not in text, text


@pytest.mark.parametrize("actor", ["olivia", "42"])
def test_the_audit_filter_by_actor_reads_both_columns_by_index(actor):
    """The filter matches a username (label) or an id: each column has its index, so
    PostgreSQL combines them (a bitmap OR) instead of walking every event."""
    for n, (label, actor_id) in enumerate([("olivia", "42"), ("ci-bot", "7"), ("drift", "")]):
        audit_record(
            actor=Actor(type=ActorType.USER, id=actor_id, label=label),
            action="agent.updated",
            agent_slug=f"agent-{n}",
        )
    events = AuditEventFilterSet({"actor": actor}, queryset=AuditEvent.objects.all()).qs
    assert [event.actor_label for event in events] == ["olivia"]
    text = plan(events.order_by("-seq")[:51])
    assert "BitmapOr" in text, text
    assert "audit_audit_actor_l_b10e31_idx" in text, text
    assert "audit_audit_actor_i_828ebb_idx" in text, text


@pytest.mark.parametrize("actor", ["old-timer", "77"])
@pytest.mark.parametrize("reader", ["audit-log", "api-audit-events"])
def test_a_page_of_an_actors_events_walks_each_actor_index_apart(client, staff, actor, reader):
    """Neither a walk of every event by seq (which passes every later event when the actor's
    lie far back) nor a read of all the actor's events: each column's index is walked
    backwards, only as far as a page."""
    for n, (label, actor_id) in enumerate([("old-timer", "77"), ("ci-bot", "1"), ("7", "8")]):
        audit_record(
            actor=Actor(type=ActorType.USER, id=actor_id, label=label),
            action="agent.updated",
            agent_slug=f"agent-{n}",
        )
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(reader), {"actor": actor}).status_code == 200
    (sql,) = [q["sql"] for q in queries if '"actor_label" =' in q["sql"]]
    with connection.cursor() as cursor:
        # A table of a few rows is as cheap to read whole (or by bitmap) and sort, whatever
        # the statistics earlier tests left: the test holds the query's shape, which lets
        # each index be walked apart as PostgreSQL does at volume (docs/performance.md).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        text = "\n".join(row[0] for row in cursor.fetchall())
    assert "Scan Backward using audit_audit_actor_l_b10e31_idx" in text, text
    assert "Scan Backward using audit_audit_actor_i_828ebb_idx" in text, text


def page_plan(sql: str) -> str:
    """Return the plan of a page's query with sequential and bitmap scans priced out."""
    with connection.cursor() as cursor:
        # A table of a few rows is as cheap to read whole (or by bitmap) and sort, whatever
        # the statistics earlier tests left: the test holds the query's shape, which lets
        # each index be walked apart as PostgreSQL does at volume (docs/performance.md).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("params", [{}, {"actor": "ci-bot"}], ids=str)
def test_a_token_bound_to_agents_reads_each_agents_events_apart(api, params):
    """Not one walk of every event by seq past the other agents' (an `agent_slug IN`):
    each bound agent's events are walked apart by an index, only as far as a page (its
    (agent_slug, seq) index when no actor is named)."""
    agents = [AgentFactory(slug=slug) for slug in ("alpha", "beta", "gamma")]
    for n, slug in enumerate(["alpha", "beta", "gamma", "delta"] * 2):
        audit_record(
            actor=Actor(type=ActorType.TOKEN, id="1", label="ci-bot"),
            action="gate.checked",
            agent_slug=slug,
            data={"n": n},
        )
    officer = UserFactory(username="officer", groups=["compliance-officer"])
    client = api(officer, Scope.AUDIT_READ, agents=agents)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api-audit-events"), params)
    assert response.status_code == 200
    assert {e["agent_slug"] for e in response.json()["results"]} == {"alpha", "beta", "gamma"}
    (sql,) = [q["sql"] for q in queries if 'FROM "audit_auditevent"' in q["sql"]]
    text = page_plan(sql)
    assert "ANY" not in text, text
    for slug in ("alpha", "beta", "gamma"):
        assert f"= '{slug}'::text" in text, text
    if not params:
        assert text.count("Scan Backward using audit_audit_agent_s_37142e_idx") == 3, text


def test_the_lead_time_charts_cache_key_reads_two_indexes_not_every_decision(
    workflow, agent, staff
):
    """The key's read runs on every dashboard view: the newest decision by its primary key,
    the latest setting aside on the set-aside decisions' partial index."""
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 54.")
    with CaptureQueriesContext(connection) as queries:
        charts.lead_time_rows(workflow.owner, now=timezone.now(), slas=charts.review_slas())
    text = page_plan(queries[0]["sql"])
    assert "Backward using decision_set_aside_idx" in text, text
    assert "Index Scan Backward using signoffs_decision_pkey" in text, text
    assert "Sort" not in text, text
