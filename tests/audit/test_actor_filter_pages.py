"""The filter by actor pages alike whatever the shape of the actor's events.

The audit page and `GET /api/v1/audit/events` read an actor's events as the
union of two parts (by username; by id alone: `AuditEventFilterSet.parts`).
Walked back and forth, their pages hold exactly what the plain filter holds,
newest first.
"""

import pytest
from django.db.models import Q

from audit.actors import Actor, ActorType
from audit.models import AuditEvent
from audit.services import audit_record
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


@pytest.fixture
def trail(db):
    for n in range(13):
        audit_record(actor=user("77", "old-timer"), action="agent.updated", data={"n": n})
    for n in range(90):
        audit_record(actor=TURNS[n % len(TURNS)], action="agent.updated", data={"n": n})


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
