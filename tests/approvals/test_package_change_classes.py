"""A new version's review follows its changes' classes.

A changed commitment needs a review again, as an expansion does: by every
dimension for the kill switch, by the dimensions whose checklist items cover
it otherwise; a version that only narrows the scope or rewords the narrative
carries the sign-offs over, recorded in the audit trail.
"""

import copy

import pytest

from approvals.manifest import diff_manifests
from approvals.models import PackageState
from signoffs.models import SignOffState

pytestmark = pytest.mark.django_db


def only_event(events, action):
    matching = [e for e in events if e.action == action]
    assert len(matching) == 1, [e.action for e in events]
    return matching[0]


ALL = {"iam", "pam", "security", "compliance"}


@pytest.mark.parametrize(
    "change, reopened",
    [
        (lambda d: d["kill_switch"].update(owner="someone-else"), ALL),
        (lambda d: d["kill_switch"].update(procedure="Unplug it."), ALL),
        (lambda d: d["rollback"].update(plan="Roll forward."), {"compliance"}),
        (lambda d: d["credentials"].update(revocation="Rotate by hand."), {"iam", "pam"}),
        (lambda d: d["logging"].update(attribution="By client id."), {"iam", "compliance"}),
    ],
)
def test_a_commitment_change_needs_a_review(workflow, agent, audit_since, change, reopened):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    change(doc)
    since = audit_since()
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.IN_REVIEW
    assert second.carried_over is False
    assert not diff_manifests(first.manifest, second.manifest).keeps_approval
    assert second.diff["is_commitment_change"] is True
    assert len(second.diff["commitments"]) == 1
    states = {s.dimension: s.state for s in second.signoffs.all()}
    assert {d for d, state in states.items() if state == SignOffState.PENDING} == reopened
    assert {d for d, state in states.items() if state == SignOffState.CARRIED_OVER} == (
        ALL - reopened
    )
    events = since()
    submitted = only_event(events, "package.submitted")
    assert submitted.data["diff"]["commitments"] == second.diff["commitments"]
    assert set(submitted.data["review_plan"]["reopened"]) == reopened
    carried = [e for e in events if e.action == "package.signoffs_carried_over"]
    assert [set(e.data["carried_over"]) for e in carried] == (
        [ALL - reopened] if reopened != ALL else []
    )
    first.refresh_from_db()
    assert first.state == PackageState.APPROVED


def test_a_commitment_change_with_a_narrowing_still_needs_a_full_review(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["credentials"]["max_ttl_seconds"] = 300
    doc["kill_switch"]["owner"] = "someone-else"
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.IN_REVIEW
    assert {s.state for s in second.signoffs.all()} == {SignOffState.PENDING}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(description="Now with a description."),
        lambda d: d.update(justification="Reworded reasons."),
        lambda d: d["scope"]["tools"][0].update(justification="Reworded."),
        lambda d: (d.update(justification="Reworded."), d["scope"]["external_apis"].clear()),
    ],
)
def test_narrative_or_narrowing_carries_the_signoffs_over(workflow, agent, audit_since, change):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    change(doc)
    since = audit_since()
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.APPROVED
    assert second.carried_over is True
    assert diff_manifests(first.manifest, second.manifest).keeps_approval
    assert second.expires_at == first.expires_at
    assert second.diff["narrative"]
    assert {s.state for s in second.signoffs.all()} == {SignOffState.CARRIED_OVER}
    events = since()
    assert only_event(events, "package.submitted").data["review_plan"]["mode"] == "carried"
    carried = only_event(events, "package.signoffs_carried_over")
    assert carried.data["from_version"] == first.version
    assert carried.data["narrative"] == second.diff["narrative"]
    assert carried.data["narrowings"] == second.diff["narrowings"]
    only_event(events, "package.approved")
