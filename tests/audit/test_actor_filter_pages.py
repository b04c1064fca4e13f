"""The filter by actor pages alike whatever the shape of the actor's events.

The audit page and `GET /api/v1/audit/events` read an actor's events as the
union of two parts (by username; by id alone: `AuditEventFilterSet.parts`), with
the other filters in each part, and a token bound to several agents reads its
agents' events agent by agent. Walked back and forth, their pages hold exactly
what the plain filter holds, newest first.
"""

import pytest
from django.db.models import Q

from audit.actors import Actor, ActorType
from audit.filters import AuditEventFilterSet
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import AgentFactory, UserFactory
from tokens.models import Scope
from web import selectors

pytestmark = pytest.mark.django_db

PAGE = 4


def user(id_: str, label: str) -> Actor:
    return Actor(type=ActorType.USER, id=id_, label=label)


CI = Actor(type=ActorType.TOKEN, id="1", label="ci-bot", token_label="token:ab12 (ci)")
# After the old user's events, the others in turn, the CI token's most often.
TURNS = [
    CI,
    user("42", "olivia"),
    CI,
    user("7", "ann"),
    CI,
    user("8", "7"),  # a username that is another user's id
    CI,
    user("9", "9"),  # a username that is the user's own id
    Actor.system("celery:sweep"),
]

ACTORS = [
    "ci-bot",
    "1",
    "olivia",
    "42",
    "old-timer",  # every event of theirs lies before all the others
    "77",
    "7",  # ann by id, the user named 7 by username
    "9",
    "celery:sweep",
    "nobody",
]


# The agents and actions the events fall on in turn; the old user's all are alpha's updates.
AGENTS = ["alpha", "beta", "gamma", ""]
ACTIONS = ["agent.updated", "package.created", "gate.checked"]


@pytest.fixture
def trail(db):
    for n in range(13):
        audit_record(
            actor=user("77", "old-timer"), action="agent.updated", agent_slug="alpha", data={"n": n}
        )
    for n in range(90):
        audit_record(
            actor=TURNS[n % len(TURNS)],
            action=ACTIONS[n % len(ACTIONS)],
            agent_slug=AGENTS[n % len(AGENTS)],
            data={"n": n},
        )


def expected(actor: str) -> list[int]:
    events = AuditEvent.objects.filter(Q(actor_label=actor) | Q(actor_id=actor))
    return list(events.order_by("-seq").values_list("seq", flat=True))


@pytest.mark.parametrize("actor", ACTORS)
def test_the_audit_page_walks_an_actors_events_back_and_forth(trail, staff, actor):
    def page(**position):
        return selectors.audit_events(user=staff, filters={"actor": actor}, limit=PAGE, **position)

    pages = [page()]
    assert pages[0].newer is None
    while pages[-1].older is not None:
        pages.append(page(before=pages[-1].older))
    assert [e.seq for p in pages for e in p.events] == expected(actor)

    back = [pages[-1]]
    while back[-1].newer is not None:
        back.append(page(after=back[-1].newer))
    assert [[e.seq for e in p.events] for p in back[1:]] == [
        [e.seq for e in p.events] for p in pages[-2::-1]
    ]


@pytest.mark.parametrize("actor", ACTORS)
def test_the_event_list_walks_an_actors_events_by_cursor_back_and_forth(
    trail, client, staff, actor
):
    client.force_login(staff)
    first = client.get("/api/v1/audit/events", {"actor": actor, "limit": PAGE})
    assert first.status_code == 200
    pages = [first.json()]
    assert pages[0]["previous"] is None
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    assert [e["seq"] for p in pages for e in p["results"]] == expected(actor)

    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(client.get(back[-1]["previous"]).json())
    assert [[e["seq"] for e in p["results"]] for p in back] == [
        [e["seq"] for e in p["results"]] for p in pages[::-1]
    ]


def test_the_event_list_narrows_an_actors_events_with_the_other_filters(trail, client, staff):
    client.force_login(staff)
    audit_record(actor=user("42", "olivia"), action="package.created", agent_slug="billing")
    response = client.get("/api/v1/audit/events", {"actor": "olivia", "agent": "billing"})
    assert [e["action"] for e in response.json()["results"]] == ["package.created"]


def seq_time(seq: int) -> str:
    return AuditEvent.objects.get(seq=seq).created_at.isoformat()


# The actor with another filter: the actor's few events far back within a busy agent or
# action, none within it, the busiest actor within a quiet one, and time ranges.
COMBINATIONS = [
    {"actor": "old-timer", "agent": "alpha"},
    {"actor": "77", "agent": "alpha"},
    {"actor": "ci-bot", "agent": "beta"},
    {"actor": "7", "agent": "gamma"},
    {"actor": "olivia", "agent": "beta"},
    {"actor": "old-timer", "action": "agent.updated"},
    {"actor": "ci-bot", "action": "package.created"},
    {"actor": "9", "action": "gate.checked"},
    {"actor": "celery:sweep", "action": "gate.checked"},
    {"actor": "ci-bot", "since": 40},
    {"actor": "old-timer", "until": 10},
    {"actor": "7", "since": 20, "until": 80},
    {"actor": "ci-bot", "agent": "alpha", "action": "gate.checked", "until": 90},
]


def with_times(filters: dict) -> dict:
    """Return the filters with each time given as the seq of the event at that time."""
    first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    return {
        name: seq_time(first + value) if name in ("since", "until") else value
        for name, value in filters.items()
    }


def plain(filters: dict, agents: list[str] | None = None) -> list[int]:
    """Return the seqs of the plain filter's events (one query, no parts), newest first."""
    events = AuditEventFilterSet(filters, queryset=AuditEvent.objects.all()).qs
    if agents is not None:
        events = events.filter(agent_slug__in=agents)
    return list(events.order_by("-seq").values_list("seq", flat=True))


def api_walk(client, params: dict) -> tuple[list[int], list[list[int]], list[list[int]]]:
    """Return the seqs the event list gives walked by cursor, and its pages forth and back."""
    first = client.get("/api/v1/audit/events", {**params, "limit": PAGE})
    assert first.status_code == 200, first.content
    pages = [first.json()]
    assert pages[0]["previous"] is None
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(client.get(back[-1]["previous"]).json())
    forth = [[e["seq"] for e in p["results"]] for p in pages]
    return (
        [seq for page in forth for seq in page],
        forth,
        [[e["seq"] for e in p["results"]] for p in back],
    )


@pytest.mark.parametrize("combination", COMBINATIONS, ids=str)
def test_the_audit_page_walks_an_actor_with_other_filters_back_and_forth(trail, staff, combination):
    filters = with_times(combination)

    def page(**position):
        return selectors.audit_events(user=staff, filters=filters, limit=PAGE, **position)

    pages = [page()]
    while pages[-1].older is not None:
        pages.append(page(before=pages[-1].older))
    assert [e.seq for p in pages for e in p.events] == plain(filters)

    back = [pages[-1]]
    while back[-1].newer is not None:
        back.append(page(after=back[-1].newer))
    assert [[e.seq for e in p.events] for p in back[1:]] == [
        [e.seq for e in p.events] for p in pages[-2::-1]
    ]


@pytest.mark.parametrize("combination", COMBINATIONS, ids=str)
def test_the_event_list_walks_an_actor_with_other_filters_back_and_forth(
    trail, client, staff, combination
):
    filters = with_times(combination)
    client.force_login(staff)
    seqs, forth, back = api_walk(client, filters)
    assert seqs == plain(filters)
    assert back == forth[::-1]


BOUND = ["alpha", "beta", "gamma"]


@pytest.mark.parametrize(
    "filters",
    [{}, {"actor": "ci-bot"}, {"actor": "old-timer"}, {"actor": "7"}, {"action": "gate.checked"}]
    + [{"agent": "beta", "actor": "ci-bot"}, {"actor": "9", "since": 30}],
    ids=str,
)
@pytest.mark.parametrize("agents", [BOUND, BOUND[1:], BOUND[:1]], ids=len)
def test_the_event_list_of_a_token_bound_to_agents_walks_back_and_forth(
    trail, api, filters, agents
):
    bound = [AgentFactory(slug=slug) for slug in agents]
    officer = UserFactory(username="officer", groups=["compliance-officer"])
    client = api(officer, Scope.AUDIT_READ, agents=bound)
    filters = with_times(filters)
    seqs, forth, back = api_walk(client, filters)
    assert seqs == plain(filters, agents)
    assert back == forth[::-1]
