"""A delegate deciding while the absence that makes them delegate is cleared or handed on.

Clearing or changing an absence holds its row until it commits; a decision locks the
absences naming its decider delegate before asking whether they may decide, so the
decision either commits before the absence ends or is refused: it never lands in the
audit chain after the absence's end on the footing that absence gave.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.membership import Source, reviewer_assign
from approvals.services import signoff_decide
from audit.actors import Actor
from audit.models import AuditEvent
from config.errors import NotPermitted
from signoffs.absence import absence_clear, absence_set
from signoffs.models import Decision, Dimension, SignOffState, Verdict
from tests.concurrency import raced
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db(transaction=True)
PAM = Dimension.PAM


@pytest.fixture
def delegated(workflow, owner, reviewers, staff):
    """A package in review whose PAM sign-off waits for pam1, away with pam2 deciding for them."""
    agent = AgentFactory(owners=[owner])
    absent, delegate = reviewers["pam"]
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=absent,
        permission="review_pam",
        source=Source.PAGE,
    )
    package = workflow.submit(agent)
    now = timezone.now()
    absence = absence_set(
        actor=Actor.for_user(absent),
        reviewer=absent,
        dimension=PAM,
        delegate=delegate,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
    )
    return package, absence


def _decide(workflow, package, delegate):
    return lambda: signoff_decide(
        actor=Actor.for_user(delegate),
        package=package,
        dimension=PAM,
        verdict=Verdict.APPROVE,
        comment="Covering for pam1.",
        answers=workflow.answers(package, PAM),
    )


def _refused(errors) -> bool:
    return [(type(e), e.code) for e in errors] == [(NotPermitted, "not_assigned")]


def test_a_delegates_decision_racing_the_absences_clearing_is_refused(workflow, delegated):
    package, absence = delegated
    delegate = absence.delegate
    errors = raced(
        lambda: absence_clear(actor=Actor.for_user(absence.reviewer), absence=absence),
        _decide(workflow, package, delegate),
    )
    assert _refused(errors), errors
    assert not Decision.objects.filter(signoff__package=package).exists()
    assert package.signoffs.get(dimension=PAM).state == SignOffState.PENDING


def test_a_delegates_decision_racing_a_change_of_delegate_is_refused(
    workflow, delegated, reviewers, staff
):
    package, absence = delegated
    delegate = absence.delegate
    staff.groups.add(*reviewers["pam"][0].groups.all())
    errors = raced(
        lambda: absence_set(
            actor=Actor.for_user(absence.reviewer),
            reviewer=absence.reviewer,
            dimension=PAM,
            delegate=staff,
            starts_at=absence.starts_at,
            ends_at=absence.ends_at,
        ),
        _decide(workflow, package, delegate),
    )
    assert _refused(errors), errors
    assert not Decision.objects.filter(signoff__package=package).exists()


def test_an_absence_cleared_while_its_delegate_decides_ends_after_the_decision(workflow, delegated):
    package, absence = delegated
    delegate = absence.delegate
    errors = raced(
        _decide(workflow, package, delegate),
        lambda: absence_clear(actor=Actor.for_user(absence.reviewer), absence=absence),
    )
    assert not errors, errors
    decision = Decision.objects.get(signoff__package=package)
    assert decision.reviewer == delegate and decision.on_behalf_of == absence.reviewer
    actions = list(
        AuditEvent.objects.filter(action__in=["signoff.decided", "absence.cleared"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["signoff.decided", "absence.cleared"]
