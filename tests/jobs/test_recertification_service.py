"""Re-certification services: due window, reminders, blocked openings, notifications on commit."""

import copy
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from approvals.models import ApprovalPackage, PackageState
from approvals.recertification import recertifications_open_due, recertifications_remind_due
from audit.actors import Actor
from outbox.models import Notification
from outbox.services import notify
from signoffs.models import Verdict
from tests.factories import manifest_for
from tokens.accounts import system_account_get_or_create

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("celery:recertification_open")


def _expire_in(package, days):
    ApprovalPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() + timedelta(days=days)
    )


def test_only_approvals_inside_the_lead_window_open(workflow, agent):
    approved = workflow.approve(agent)
    lead = settings.COUNTERSIGN["RECERTIFICATION_LEAD_DAYS"]
    _expire_in(approved, lead + 1)
    assert recertifications_open_due(actor=ACTOR).done == []
    _expire_in(approved, lead - 1)
    assert recertifications_open_due(actor=ACTOR).done == [f"{agent.slug} v{approved.version}"]
    assert recertifications_open_due(actor=ACTOR).done == []


def test_reviewers_are_reminded_once_near_the_expiry(workflow, agent, audit_since):
    approved = workflow.approve(agent)
    _expire_in(approved, 5)
    recertifications_open_due(actor=ACTOR)
    assert recertifications_remind_due(actor=ACTOR).done == []
    _expire_in(approved, 2)
    since = audit_since()
    assert len(recertifications_remind_due(actor=ACTOR).done) == 1
    assert recertifications_remind_due(actor=ACTOR).done == []
    events = since()
    assert [e.action for e in events] == ["recertification.reminded"]
    assert sorted(events[0].data["pending"]) == ["compliance", "iam", "pam", "security"]
    reminder = Notification.objects.filter(event="recertification.due").order_by("-pk").first()
    assert reminder.payload["data"]["reminder"] is True


def test_a_stale_kill_switch_test_blocks_the_opening_and_says_so_once(workflow, agent, audit_since):
    approved = workflow.approve(agent)
    _expire_in(approved, 2)
    since = audit_since()
    with override_settings(
        COUNTERSIGN={**settings.COUNTERSIGN, "KILL_SWITCH_TEST_MAX_AGE_DAYS": 1}
    ):
        run = recertifications_open_due(actor=ACTOR)
        assert run.failed == [f"{agent.slug} v{approved.version}"]
        assert recertifications_open_due(actor=ACTOR).failed == run.failed
    assert not ApprovalPackage.objects.filter(agent=agent, is_recertification=True).exists()
    assert [e.action for e in since()] == ["recertification.blocked"]
    assert Notification.objects.filter(event="recertification.blocked").count() == 1


def _rollback_changed(doc):
    """Return the manifest with its rollback plan changed: compliance alone reviews it."""
    doc = copy.deepcopy(doc)
    doc["rollback"]["plan"] = "Redeploy the previous version."
    return doc


def test_a_superseded_recertification_opens_again(workflow, agent):
    """A re-certification a newer version superseded re-certified nothing: when that version
    is not approved either, the approval still in force gets a re-certification again."""
    approved = workflow.approve(agent)
    _expire_in(approved, 10)
    label = f"{agent.slug} v{approved.version}"
    assert recertifications_open_due(actor=ACTOR).done == [label]
    superseded = ApprovalPackage.objects.get(agent=agent, is_recertification=True)
    change = workflow.submit(agent, _rollback_changed(approved.manifest))
    superseded.refresh_from_db()
    assert superseded.state == PackageState.SUPERSEDED
    workflow.decide(change, "compliance", verdict=Verdict.REQUEST_CHANGES, comment="Say more.")
    assert recertifications_open_due(actor=ACTOR).done == [label]
    reopened = ApprovalPackage.objects.get(agent=agent, state=PackageState.IN_REVIEW)
    assert reopened.is_recertification and reopened.base_id == approved.pk
    assert recertifications_open_due(actor=ACTOR).done == []


def test_a_review_carrying_signoffs_over_gives_way_to_the_recertification(
    workflow, agent, audit_since
):
    """A targeted review keeps the expiry it carries, so it re-certifies nothing: the
    re-certification opens ahead of the expiry and supersedes it, and says so."""
    # The account the system writes packages as exists already: its creation is an event
    # of its own, written once, whichever job needs it first.
    system_account_get_or_create(actor=ACTOR)
    approved = workflow.approve(agent)
    change = workflow.submit(agent, _rollback_changed(approved.manifest))
    assert change.review_plan["mode"] == "targeted"
    _expire_in(approved, 10)
    since = audit_since()
    assert recertifications_open_due(actor=ACTOR).done == [f"{agent.slug} v{approved.version}"]
    change.refresh_from_db()
    assert change.state == PackageState.SUPERSEDED
    recertification = ApprovalPackage.objects.get(agent=agent, is_recertification=True)
    assert recertification.state == PackageState.IN_REVIEW
    assert change.state_reason == f"Superseded by v{recertification.version}."
    events = since()
    assert [e.action for e in events] == [
        "package.created",
        "package.superseded",
        "package.submitted",
        "recertification.opened",
    ]
    assert events[-1].data["supersedes_version"] == change.version
    due = Notification.objects.get(event="recertification.due")
    assert due.payload["data"]["supersedes_version"] == change.version


def test_a_review_in_full_stands_in_for_the_recertification(workflow, agent):
    approved = workflow.approve(agent)
    doc = copy.deepcopy(approved.manifest)
    doc["kill_switch"]["max_minutes_to_revoke"] = 30  # a kill-switch change: reviewed in full
    full = workflow.submit(agent, doc)
    assert full.review_plan["mode"] == "full"
    _expire_in(approved, 10)
    assert recertifications_open_due(actor=ACTOR).done == []
    assert not ApprovalPackage.objects.filter(agent=agent, is_recertification=True).exists()


def test_a_kill_switch_test_too_old_by_the_expiry_blocks_the_opening(workflow, agent, audit_since):
    """The re-certification must be approved by the expiry, and the approval checks the
    test's age on its day: a test recent enough today but too old by the expiry would give
    a review nobody can approve, so the owners are told to test again before it opens."""
    max_age = settings.COUNTERSIGN["KILL_SWITCH_TEST_MAX_AGE_DAYS"]
    doc = manifest_for(agent)
    tested = timezone.now().date() - timedelta(days=max_age - 5)
    doc["kill_switch"]["last_tested"] = tested.isoformat()
    approved = workflow.approve(agent, doc)
    _expire_in(approved, 10)
    approved.refresh_from_db()
    since = audit_since()
    assert recertifications_open_due(actor=ACTOR).failed == [f"{agent.slug} v{approved.version}"]
    assert not ApprovalPackage.objects.filter(agent=agent, is_recertification=True).exists()
    (event,) = since()
    assert event.action == "recertification.blocked"
    assert event.data["code"] == "kill_switch_untested"
    expiry = approved.expires_at.date().isoformat()
    assert event.data["message"] == (
        f"The re-certification of v{approved.version} must be approved by {expiry}, when its "
        f"approval expires, and on that day: The kill switch was last tested {tested}, more "
        f"than {max_age} days ago. Test the kill switch again and submit a version with the "
        "new date."
    )
    blocked = Notification.objects.get(event="recertification.blocked")
    assert blocked.payload["data"]["reason"] == event.data["message"]
    # Four days before the expiry the same test is recent enough to the end: it opens.
    _expire_in(approved, 4)
    assert recertifications_open_due(actor=ACTOR).done == [f"{agent.slug} v{approved.version}"]


def test_a_rolled_back_change_leaves_no_notification(agent):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        notify("agent.suspended", agent=agent)
        raise Boom
    assert not Notification.objects.exists()
