"""Delegation during an absence, fallback reviewers past the review target, reassignment by staff.

Whoever decides in another's place, every rule of who may decide applies to them.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.membership import Source, reviewer_assign
from approvals.delegation import signoff_reassign, signoff_waiting_for
from approvals.eligibility import eligibility_of
from approvals.models import ApprovalPackage
from approvals.ownership import agent_update
from approvals.services import signoff_decide
from audit.actors import Actor
from config.errors import InvalidInput, NotPermitted
from config.reasons import REASON_MAX_LENGTH
from signoffs.absence import absence_clear, absence_set, absences_covered
from signoffs.models import Decision, Dimension, Footing, Verdict
from signoffs.permissions import decision_standing
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAM = Dimension.PAM
SYSTEM = Actor.system("tests")


def away(reviewer, delegate, *, starts=-1, ends=5, dimension=PAM, actor=None):
    now = timezone.now()
    return absence_set(
        actor=actor or Actor.for_user(reviewer),
        reviewer=reviewer,
        dimension=dimension,
        delegate=delegate,
        starts_at=now + timedelta(days=starts),
        ends_at=now + timedelta(days=ends),
    )


def decide(workflow, package, user, dimension=PAM):
    return signoff_decide(
        actor=Actor.for_user(user),
        package=package,
        dimension=dimension,
        verdict=Verdict.APPROVE,
        comment="ok",
        answers=workflow.answers(package, dimension),
    )


def refused(workflow, package, user, code, audit_since, dimension=PAM):
    since = audit_since()
    with pytest.raises(NotPermitted) as raised:
        decide(workflow, package, user, dimension)
    assert raised.value.code == code
    assert since() == []


def test_the_delegate_decides_on_behalf_of_the_absent_reviewer(
    workflow, agent, assigned, audit_since
):
    absent, delegate = assigned
    package = workflow.submit(agent)
    refused(workflow, package, delegate, "not_assigned", audit_since)

    since = audit_since()
    absence = away(absent, delegate)
    [event] = since()
    assert event.action == "absence.set" and event.actor_label == "pam1"
    assert event.data == {"reviewer": "pam1", "dimension": "pam", "delegate": "pam2"}
    assert event.after["delegate"] == "pam2" and event.before == {}
    assert [u.username for u in signoff_waiting_for(package.signoffs.get(dimension=PAM))] == [
        "pam1",
        "pam2",
    ]

    since = audit_since()
    decision = decide(workflow, package, delegate)
    assert decision.reviewer == delegate and decision.on_behalf_of == absent
    decided = next(e for e in since() if e.action == "signoff.decided")
    assert decided.actor_label == "pam2"
    assert decided.data["on_behalf_of"] == "pam1" and decided.data["basis"] == "delegate"
    assert absence.pk


def test_outside_the_window_or_once_cleared_the_delegate_is_refused(
    workflow, agent, assigned, audit_since
):
    absent, delegate = assigned
    package = workflow.submit(agent)
    away(absent, delegate, starts=2, ends=5)
    refused(workflow, package, delegate, "not_assigned", audit_since)

    absence = away(absent, delegate)
    assert decision_standing(delegate, package.signoffs.get(dimension=PAM)).basis == "delegate"
    since = audit_since()
    absence_clear(actor=Actor.for_user(absent), absence=absence)
    [event] = since()
    assert event.action == "absence.cleared" and event.before["delegate"] == "pam2"
    refused(workflow, package, delegate, "not_assigned", audit_since)


def test_separation_of_duties_applies_to_the_delegate(workflow, agent, assigned, audit_since):
    absent = assigned[0]
    both = UserFactory(username="iam-and-pam", groups=["iam", "pam"])
    package = workflow.submit(agent)
    decide(workflow, package, both, Dimension.IAM)
    away(absent, both)
    # The delegate decided the IAM sign-off already: one dimension per person.
    refused(workflow, package, both, "other_dimension", audit_since)


def test_a_delegate_who_owns_the_agent_is_refused(workflow, agent, assigned, audit_since):
    absent = assigned[0]
    owner_reviewer = UserFactory(username="pam-owner", groups=["pam"])
    agent.owners.add(owner_reviewer)
    package = workflow.submit(agent)
    away(absent, owner_reviewer)
    refused(workflow, package, owner_reviewer, "owner_review", audit_since)


def test_an_owner_who_is_the_assigned_reviewer_names_no_delegate(
    workflow, agent, owner, assigned, audit_since
):
    absent, delegate = assigned
    # The assigned reviewer joins the owners while nothing is in review, then the package is
    # submitted: they may not decide it, and the rest of the group is not assigned.
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, absent])
    package = workflow.submit(agent)
    refused(workflow, package, absent, "owner_review", audit_since)
    refused(workflow, package, delegate, "not_assigned", audit_since)

    # Their absence, set while the package is in review, names nobody who decides it.
    away(absent, delegate)
    refused(workflow, package, delegate, "not_assigned", audit_since)
    assert signoff_waiting_for(package.signoffs.get(dimension=PAM)) == []


def test_the_delegate_decides_once_for_an_absent_reviewer_who_decided(
    workflow, agent, assigned, audit_since
):
    absent, delegate = assigned
    package = workflow.submit(agent)
    decide(workflow, package, absent, Dimension.PAM)
    away(absent, delegate)
    assert not decision_standing(delegate, package.signoffs.get(dimension=PAM))


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"delegate": "iam1"}, "delegate", "not_reviewer"),
        ({"delegate": "pam1"}, "delegate", "self_delegate"),
        ({"dimension": "iam"}, "dimension", "not_reviewer"),
        ({"ends": -1, "starts": -3}, "ends_at", "invalid"),
        ({"ends": 1, "starts": 2}, "ends_at", "invalid"),
        ({"ends": 400}, "ends_at", "invalid"),
    ],
)
def test_a_bad_absence_names_its_field_and_changes_nothing(
    reviewers, audit_since, change, field, code
):
    people = {u.username: u for group in reviewers.values() for u in group}
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        away(
            people["pam1"],
            people[change.get("delegate", "pam2")],
            starts=change.get("starts", -1),
            ends=change.get("ends", 5),
            dimension=change.get("dimension", PAM),
        )
    assert raised.value.code == code and field in raised.value.fields
    assert since() == []


def test_changing_an_absence_writes_only_its_window_and_delegate(reviewers, audit_since):
    pam1, pam2 = reviewers["pam"]
    first = away(pam1, pam2, ends=5)
    since = audit_since()
    with CaptureQueriesContext(connection) as queries:
        changed = away(pam1, pam2, ends=9)
    assert changed.pk == first.pk and changed.created_at == first.created_at
    (update,) = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "signoffs_absence"')]
    written = update.partition(" SET ")[2].partition(" WHERE ")[0]
    assert [column.split(" = ")[0] for column in written.split(", ")] == [
        '"delegate_id"',
        '"starts_at"',
        '"ends_at"',
    ]
    (event,) = since()
    assert event.before["ends_at"] == first.ends_at.isoformat() != event.after["ends_at"]


def test_only_the_reviewer_or_staff_set_an_absence(reviewers, staff, audit_since):
    pam1, pam2 = reviewers["pam"]
    since = audit_since()
    with pytest.raises(NotPermitted):
        away(pam1, pam2, actor=Actor.for_user(pam2))
    assert since() == []
    away(pam1, pam2, actor=Actor.for_user(staff))
    assert [e.actor_label for e in since()] == ["staff"]


def test_a_fallback_reviewer_takes_over_once_the_review_is_overdue(
    workflow, agent, assigned, staff, audit_since
):
    fallback = assigned[1]
    since = audit_since()
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=fallback,
        permission="fallback_pam",
        source=Source.PAGE,
    )
    [event] = since()
    assert event.action == "agent.reviewer_assigned" and event.data["permission"] == "fallback_pam"
    package = workflow.submit(agent)
    refused(workflow, package, fallback, "not_assigned", audit_since)

    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    since = audit_since()
    decision = decide(workflow, package, fallback)
    assert decision.on_behalf_of is None
    decided = next(e for e in since() if e.action == "signoff.decided")
    assert decided.data["basis"] == "fallback" and decided.data["on_behalf_of"] is None


def test_a_fallback_owner_is_refused_when_assigned(agent, reviewers, owner, staff):
    pam_owner = UserFactory(username="pam-owner", groups=["pam"])
    agent.owners.add(pam_owner)
    with pytest.raises(InvalidInput) as raised:
        reviewer_assign(
            actor=Actor.for_user(staff),
            agent=agent,
            user=pam_owner,
            permission="fallback_pam",
            source=Source.PAGE,
        )
    assert raised.value.code == "owner_review"


def test_staff_reassign_a_pending_signoff(workflow, agent, assigned, staff, audit_since):
    first, second = assigned
    package = workflow.submit(agent)
    since = audit_since()
    signoff = signoff_reassign(
        actor=Actor.for_user(staff), package=package, dimension=PAM, user=second, reason="Leave."
    )
    assert signoff.assigned_to == second
    [event] = since()
    assert event.action == "signoff.reassigned" and event.actor_label == "staff"
    assert event.before == {"assigned_to": None} and event.after == {"assigned_to": "pam2"}
    assert event.data["reason"] == "Leave."
    refused(workflow, package, first, "not_assigned", audit_since)
    decide(workflow, package, second)
    assert Decision.objects.get(reviewer=second).on_behalf_of is None


def test_reassignment_is_refused_to_whoever_may_not_decide(
    workflow, agent, assigned, staff, owner, audit_since
):
    package = workflow.submit(agent)
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        signoff_reassign(
            actor=Actor.for_user(staff), package=package, dimension=PAM, user=owner, reason="x"
        )
    assert raised.value.code == "not_reviewer" and "user" in raised.value.fields
    for actor in (Actor.for_user(assigned[0]), SYSTEM):
        with pytest.raises(NotPermitted) as raised:
            signoff_reassign(
                actor=actor, package=package, dimension=PAM, user=assigned[1], reason="x"
            )
        assert raised.value.code == "not_staff"
    for reason, problem in [
        ("", "A reason is required."),
        ("x" * (REASON_MAX_LENGTH + 1), f"At most {REASON_MAX_LENGTH} characters."),
    ]:
        with pytest.raises(InvalidInput) as raised:
            signoff_reassign(
                actor=Actor.for_user(staff),
                package=package,
                dimension=PAM,
                user=assigned[1],
                reason=reason,
            )
        assert raised.value.fields == {"reason": [problem]}
    assert since() == []


def test_the_evidence_eligibility_reads_delegates_fallbacks_and_reassignments(
    workflow, agent, assigned, reviewers, staff
):
    absent, delegate = assigned
    compliance1, compliance2 = reviewers["compliance"]
    staff_actor = Actor.for_user(staff)
    reviewer_assign(
        actor=staff_actor,
        agent=agent,
        user=compliance1,
        permission="review_compliance",
        source=Source.PAGE,
    )
    reviewer_assign(
        actor=staff_actor,
        agent=agent,
        user=compliance2,
        permission="fallback_compliance",
        source=Source.PAGE,
    )
    package = workflow.submit(agent)
    away(absent, delegate)
    on_behalf = decide(workflow, package, delegate)
    signoff_reassign(
        actor=staff_actor,
        package=package,
        dimension=Dimension.SECURITY,
        user=reviewers["security"][1],
        reason="Away.",
    )
    reassigned = decide(workflow, package, reviewers["security"][1], Dimension.SECURITY)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    package.refresh_from_db()
    fallback = decide(workflow, package, compliance2, Dimension.COMPLIANCE)

    rows = {
        row["decision"]: row
        for row in eligibility_of(
            Decision.objects.filter(pk__in=[on_behalf.pk, reassigned.pk, fallback.pk])
            .select_related("signoff__package__agent", "reviewer")
            .order_by("pk")
        )["decisions"]
    }
    assert rows[on_behalf.pk]["reviewer_was_eligible"]
    assert rows[on_behalf.pk]["decided_as"] == "delegate"
    assert rows[on_behalf.pk]["stood_in"] == ["pam2"]
    assert rows[reassigned.pk]["reviewers_assigned"] == ["security2"]
    assert rows[reassigned.pk]["reviewer_was_eligible"]
    assert {"user": "security1", "reason": "not_assigned"} in rows[reassigned.pk]["excluded"]
    assert rows[fallback.pk]["reviewer_was_eligible"]
    assert rows[fallback.pk]["decided_as"] == "fallback"


def test_the_window_holds_from_its_start_to_just_before_its_end(workflow, agent, assigned):
    """An absence covers [starts_at, ends_at): at `ends_at` itself the reviewer is back, for
    who decides, the queue's notes and the absence page's "(ended)" alike."""
    absent, delegate = assigned
    package = workflow.submit(agent)
    absence = away(absent, delegate, starts=1, ends=3)
    signoff = package.signoffs.get(dimension=PAM)
    start, end = absence.starts_at, absence.ends_at
    moments = {
        start - timedelta(seconds=1): False,
        start: True,
        end - timedelta(microseconds=1): True,
        end: False,
    }
    for moment, covered in moments.items():
        standing = decision_standing(delegate, signoff, moment)
        assert (standing.basis == Footing.DELEGATE) is covered, moment
        assert absences_covered(delegate, moment).exists() is covered, moment
        assert (delegate in signoff_waiting_for(signoff, moment)) is covered, moment
