"""The workflow's form pages refuse hostile input with a 400 naming the field, and record
nothing: a reviewer's decision, an absence, a reassignment, a user's memberships, a reviewer
assignment, a drift finding's handling, an emergency request.

Each form is posted by one person who may use it, first with good input (which is
recorded, so the form is known to work), then with a few hostile values per field, one
field at a time, each in a savepoint rolled back after it: a NUL (which PostgreSQL holds in
no text), a value past the field's length, a choice the form does not offer, a number past
any row. The full sweep (lone surrogates, whitespace, -1 and 0, repeated keys, every role)
ran once by hand; these are the values that must stay refused.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.models import FINDING_TEXT_MAX_LENGTH
from audit.models import AuditEvent
from config.reasons import REASON_MAX_LENGTH
from tests.factories import DriftFindingFactory, TeamFactory

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
PAST_ANY_ROW = "9" * 30
PAST_REASON = "r" * (REASON_MAX_LENGTH + 1)
WINDOW = "%Y-%m-%dT%H:%M"


@dataclass
class Form:
    who: str
    url: str
    good: dict
    hostile: dict
    # The form the page shows again, from its context; None: the refusal is a message.
    shown: str | None = "form"
    prefix: str = ""
    recorded: list = field(default_factory=list)


class Refused(Exception):
    """Rolls a probe's savepoint back."""


def _forms(agent, package, reviewers, finding, team) -> dict[str, Form]:
    now = timezone.now()
    iam1, iam2 = reviewers["iam"]
    return {
        "decision": Form(
            who="iam1",
            url=reverse("package-decide", args=[agent.slug, package.version, "iam"]),
            good={"iam-verdict": "reject", "iam-comment": "Too wide."},
            hostile={
                "iam-verdict": [NUL, "approve-all"],
                "iam-comment": [NUL, "c" * 5001, "   "],
            },
            shown="my_forms",
            prefix="iam-",
            recorded=["package.rejected", "signoff.decided"],
        ),
        "absence": Form(
            who="iam1",
            url=reverse("my-absence"),
            good={
                "dimension": "iam",
                "delegate": str(iam2.pk),
                "starts_at": (now + timedelta(days=1)).strftime(WINDOW),
                "ends_at": (now + timedelta(days=3)).strftime(WINDOW),
            },
            hostile={
                "dimension": ["security", NUL],
                "delegate": ["-1", PAST_ANY_ROW, NUL],
                "starts_at": [NUL, PAST_ANY_ROW],
                "ends_at": ["2026-13-40T99:99"],
            },
            recorded=["absence.set"],
        ),
        "reassignment": Form(
            who="staff",
            url=reverse("agent-signoff-reassign", args=[agent.slug]),
            good={"reassign-dimension": "iam", "reassign-user": "iam2", "reassign-reason": "Away"},
            hostile={
                "reassign-dimension": ["owner", NUL],
                "reassign-user": [NUL, "u" * 151, "nobody"],
                "reassign-reason": [NUL, PAST_REASON, " "],
            },
            shown="reassign_form",
            prefix="reassign-",
            recorded=["signoff.reassigned"],
        ),
        "memberships": Form(
            who="staff",
            url=reverse("staff-user-edit", args=[iam1.pk]),
            good={"groups": str(Group.objects.get(name="iam").pk), "teams": str(team.pk)},
            hostile={
                "groups": ["-1", PAST_ANY_ROW, NUL],
                "teams": [PAST_ANY_ROW, NUL],
                "groups_shown": [NUL, "iam"],
                "teams_shown": [NUL],
            },
            recorded=["user.teams_changed"],
        ),
        "assignment": Form(
            who="staff",
            url=reverse("agent-reviewers", args=[agent.slug]),
            good={"permission": "review_iam", "user": "iam2"},
            hostile={"permission": ["review_everything", NUL], "user": [NUL, "u" * 151]},
            recorded=["agent.reviewer_assigned"],
        ),
        "unassignment": Form(
            who="staff",
            url=reverse("agent-reviewer-unassign", args=[agent.slug]),
            good={"permission": "review_iam", "user": str(iam1.pk)},
            hostile={"permission": ["review_everything", NUL], "user": ["-1", PAST_ANY_ROW, NUL]},
            shown=None,
            recorded=["agent.reviewer_unassigned"],
        ),
        "finding": Form(
            who="security1",
            url=reverse("finding-handle", args=[agent.slug, finding.pk]),
            good={"action": "resolve", "text": "Tool removed."},
            hostile={
                "action": ["close", NUL],
                "text": [NUL, "t" * (FINDING_TEXT_MAX_LENGTH + 1)],
            },
            recorded=["drift.resolved"],
        ),
        "emergency": Form(
            who="owner",
            url=reverse("package-emergency", args=[agent.slug, package.version]),
            good={"reason": "Refunds are down."},
            hostile={"reason": [NUL, PAST_REASON, "  "]},
            recorded=["emergency.requested"],
        ),
    }


def _post(client, form: Form, data: dict):
    """Post in a savepoint rolled back after it; return the answer and the actions it recorded."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    answer = {}
    try:
        with transaction.atomic():
            answer["response"] = client.post(form.url, data)
            answer["actions"] = sorted(
                AuditEvent.objects.filter(seq__gt=last).values_list("action", flat=True)
            )
            raise Refused
    except Refused:
        pass
    return answer["response"], answer["actions"]


def _errors(response, form: Form) -> dict:
    if form.shown is None:
        return {}
    shown = response.context[form.shown]
    return dict((shown[0]["form"] if isinstance(shown, list) else shown).errors)


@pytest.mark.parametrize(
    "name",
    [
        "decision",
        "absence",
        "reassignment",
        "memberships",
        "assignment",
        "unassignment",
        "finding",
        "emergency",
    ],
)
def test_hostile_input_is_refused_naming_the_field(name, workflow, agent, reviewers, staff, owner):
    package = workflow.submit(agent)
    finding = DriftFindingFactory(agent=agent)
    team = TeamFactory(slug="ops")
    users = {"staff": staff, "owner": owner, "iam1": reviewers["iam"][0]}
    users["security1"] = reviewers["security"][0]
    form = _forms(agent, package, reviewers, finding, team)[name]
    if name == "unassignment":
        client = Client()
        client.force_login(staff)
        client.post(reverse("agent-reviewers", args=[agent.slug]), {**form.good, "user": "iam1"})
    client = Client()
    client.force_login(users[form.who])

    response, actions = _post(client, form, form.good)
    assert (response.status_code, actions) == (302, form.recorded), _errors(response, form)
    wrong = []
    for key, values in form.hostile.items():
        named = key.removeprefix(form.prefix)
        for value in values:
            response, actions = _post(client, form, {**form.good, key: value})
            errors = _errors(response, form)
            refused = response.status_code == 400 and not actions
            if not refused or (form.shown is not None and named not in errors):
                wrong.append(f"{key}={value[:12]!r}: {response.status_code} {actions} {errors}")
    assert not wrong, "\n".join(wrong)
