"""Package creation, submission, approval and the transitions around them."""

import copy
from datetime import date, timedelta

import pytest
from django.utils import timezone

from agents.models import AgentStatus
from agents.services import WORKLOAD_ID_TAKEN
from approvals.models import ApprovalPackage, PackageState
from approvals.policy import kill_switch_problem
from approvals.services import package_create, package_submit, package_update_draft
from audit.actors import Actor
from config.errors import AlreadyExists, InvalidInput, InvalidTransition, NotPermitted
from config.times import whole_second
from signoffs.models import Decision, Dimension, SignOffState, Verdict
from tests.factories import AgentFactory, manifest_for

pytestmark = pytest.mark.django_db


def only_event(events, action):
    matching = [e for e in events if e.action == action]
    assert len(matching) == 1, [e.action for e in events]
    return matching[0]


def test_create_draft_records_version_digest_tier_and_event(workflow, agent, owner, audit_since):
    since = audit_since()
    package = workflow.create(agent)
    assert package.version == 1
    assert package.state == PackageState.DRAFT
    assert len(package.digest) == 64
    assert package.risk_tier == "critical"
    assert package.entries.count() == 8
    assert package.diff["is_expansion"] is True
    event = only_event(since(), "package.created")
    assert event.actor_label == owner.username
    assert (event.agent_slug, event.package_version) == (agent.slug, 1)


def test_a_system_package_is_created_by_an_audited_inactive_system_account(agent, audit_since):
    since = audit_since()
    system = Actor.system("celery:recertification_open")
    first = package_create(actor=system, agent=agent, manifest=manifest_for(agent))
    package_create(actor=system, agent=agent, manifest=manifest_for(agent))
    account = first.created_by
    assert account.username == "countersign-system"
    assert not account.is_active
    assert not account.has_usable_password()
    event = only_event(since(), "service_account.created")
    assert (event.actor_label, event.target_id) == (system.label, str(account.pk))
    assert event.after == {"username": "countersign-system", "is_active": False}


def test_versions_are_numbered_per_agent(workflow, agent):
    assert [workflow.create(agent).version for _ in range(3)] == [1, 2, 3]


def test_manifest_for_another_agent_is_refused_and_nothing_is_stored(workflow, agent):
    doc = manifest_for(agent, agent="someone-else")
    with pytest.raises(InvalidInput) as error:
        workflow.create(agent, doc)
    assert "manifest.agent" in error.value.fields
    assert not ApprovalPackage.objects.exists()


SHARED_IDENTITY = "spiffe://prod.example.com/ns/test/sa/shared"
TAKEN = {"manifest.identity.workload_id": [WORKLOAD_ID_TAKEN]}


def naming(agent, workload_id):
    """Return the agent's manifest naming the workload identity."""
    doc = manifest_for(agent)
    doc["identity"]["workload_id"] = workload_id
    return doc


def test_a_manifest_naming_another_active_agents_identity_is_refused(workflow, agent, owner):
    other = AgentFactory(owners=[owner])
    with pytest.raises(AlreadyExists) as error:
        workflow.create(agent, naming(agent, other.workload_id))
    assert (error.value.code, error.value.fields) == ("workload_id_taken", TAKEN)
    assert not agent.packages.exists()
    draft = workflow.create(agent)
    with pytest.raises(AlreadyExists) as error:
        package_update_draft(
            actor=Actor.for_user(owner), package=draft, manifest=naming(agent, other.workload_id)
        )
    assert error.value.fields == TAKEN
    draft.refresh_from_db()
    assert draft.manifest["identity"]["workload_id"] == agent.workload_id


def test_an_identity_taken_after_the_draft_is_refused_at_submission(workflow, agent, owner):
    draft = workflow.create(agent, naming(agent, SHARED_IDENTITY))
    AgentFactory(owners=[owner], workload_id=SHARED_IDENTITY)
    with pytest.raises(AlreadyExists) as error:
        package_submit(actor=Actor.for_user(owner), package=draft)
    assert error.value.fields == TAKEN
    draft.refresh_from_db()
    assert draft.state == PackageState.DRAFT


def test_an_identity_taken_during_the_review_refuses_the_final_approval(workflow, agent, owner):
    package = workflow.submit(agent, naming(agent, SHARED_IDENTITY))
    for dimension in (Dimension.IAM, Dimension.PAM, Dimension.SECURITY):
        needed = package.signoffs.get(dimension=dimension).required_approvals
        for reviewer in workflow.reviewers[dimension][:needed]:
            workflow.decide(package, dimension, reviewer)
    AgentFactory(owners=[owner], workload_id=SHARED_IDENTITY)
    with pytest.raises(InvalidTransition) as error:
        workflow.decide(package, Dimension.COMPLIANCE)
    assert (error.value.code, error.value.fields) == ("workload_id_taken", TAKEN)
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW
    assert package.signoffs.get(dimension=Dimension.COMPLIANCE).state == SignOffState.PENDING
    assert not Decision.objects.filter(signoff__dimension=Dimension.COMPLIANCE).exists()


def test_invalid_manifest_names_the_field(workflow, agent):
    doc = manifest_for(agent)
    doc["scope"]["tools"][0]["access"] = "everything"
    with pytest.raises(InvalidInput) as error:
        workflow.create(agent, doc)
    assert any("access" in path for path in error.value.fields)


def test_non_owner_cannot_create(workflow, agent, other_owner):
    with pytest.raises(NotPermitted):
        package_create(actor=Actor.for_user(other_owner), agent=agent, manifest=manifest_for(agent))


def test_submit_opens_four_signoffs_with_tier_quorum(workflow, agent, audit_since):
    package = workflow.create(agent)
    since = audit_since()
    package = package_submit(actor=Actor.for_user(workflow.owner), package=package)
    assert package.state == PackageState.IN_REVIEW
    signoffs = {s.dimension: s for s in package.signoffs.all()}
    assert set(signoffs) == set(Dimension.values)
    assert all(s.state == SignOffState.PENDING for s in signoffs.values())
    assert signoffs["security"].required_approvals == 2  # critical tier
    event = only_event(since(), "package.submitted")
    assert event.before == {"state": "draft"}
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_REVIEW


def test_submitted_package_is_immutable(workflow, agent):
    package = workflow.submit(agent)
    with pytest.raises(InvalidTransition) as error:
        package_update_draft(
            actor=Actor.for_user(workflow.owner), package=package, manifest=manifest_for(agent)
        )
    assert error.value.code == "immutable"


def test_submit_twice_is_an_invalid_transition(workflow, agent):
    package = workflow.submit(agent)
    with pytest.raises(InvalidTransition):
        package_submit(actor=Actor.for_user(workflow.owner), package=package)


def test_stale_kill_switch_test_blocks_submission_of_high_tier(workflow, agent):
    doc = manifest_for(agent)
    doc["kill_switch"]["last_tested"] = (timezone.now().date() - timedelta(days=120)).isoformat()
    package = workflow.create(agent, doc)
    with pytest.raises(InvalidInput) as error:
        package_submit(actor=Actor.for_user(workflow.owner), package=package)
    assert error.value.code == "kill_switch_untested"
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT


def test_a_kill_switch_test_date_in_the_future_is_refused_and_never_counts_as_fresh(
    workflow, agent
):
    doc = manifest_for(agent)
    doc["kill_switch"]["last_tested"] = "2099-12-31"
    with pytest.raises(InvalidInput) as error:
        workflow.create(agent, doc)
    assert list(error.value.fields) == ["manifest.kill_switch.last_tested"]
    assert not ApprovalPackage.objects.exists()
    # A draft stored with one before the rule existed is not submitted either: the 90-day
    # rule would otherwise hold for it until 2099.
    package = workflow.create(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(manifest=doc)
    package.refresh_from_db()
    assert package.risk_tier == "critical"
    with pytest.raises(InvalidInput) as error:
        package_submit(actor=Actor.for_user(workflow.owner), package=package)
    assert error.value.code == "kill_switch_untested"
    assert "in the future" in error.value.fields["manifest.kill_switch.last_tested"][0]
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT
    # Nor at approval, nor at any re-certification on the way to 2099.
    assert "in the future" in kill_switch_problem(package, date(2098, 12, 31))


def test_all_quorums_approve_and_set_expiry_by_tier(workflow, agent, audit_since):
    since = audit_since()
    package = workflow.approve(agent)
    assert package.state == PackageState.APPROVED
    # Critical: 30 days, written in whole seconds (the precision a Cedar bundle compares).
    assert package.expires_at == whole_second(package.approved_at + timedelta(days=30))
    events = since()
    approved = only_event(events, "package.approved")
    assert approved.actor_label == "compliance1"
    assert len([e for e in events if e.action == "signoff.decided"]) == 5
    agent.refresh_from_db()
    assert agent.status == AgentStatus.APPROVED
    assert agent.risk_tier == "critical"


def test_shorter_lifetime_asked_by_package_wins(workflow, agent):
    package = workflow.approve(agent, manifest_for(agent, approval_valid_days=7))
    assert package.expires_at == whole_second(package.approved_at + timedelta(days=7))


def test_one_security_approval_is_not_enough_for_critical(workflow, agent):
    package = workflow.submit(agent)
    for dimension in Dimension.values:
        workflow.decide(package, dimension)
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW
    workflow.decide(package, Dimension.SECURITY, workflow.reviewers["security"][1])
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED


def test_rejection_closes_the_package(workflow, agent, audit_since):
    package = workflow.submit(agent)
    since = audit_since()
    workflow.decide(package, Dimension.PAM, verdict=Verdict.REJECT, comment="Standing admin.")
    package.refresh_from_db()
    assert package.state == PackageState.REJECTED
    only_event(since(), "package.rejected")
    agent.refresh_from_db()
    assert agent.status == AgentStatus.REJECTED


def test_request_changes_closes_the_version(workflow, agent, audit_since):
    package = workflow.submit(agent)
    since = audit_since()
    workflow.decide(package, Dimension.IAM, verdict=Verdict.REQUEST_CHANGES, comment="Fix TTL.")
    package.refresh_from_db()
    assert package.state == PackageState.CHANGES_REQUESTED
    only_event(since(), "package.changes_requested")


def test_new_approval_supersedes_the_old(workflow, agent, audit_since):
    first = workflow.approve(agent)
    doc = manifest_for(agent)
    doc["scope"]["tools"].append({"id": "order-lookup", "access": "read"})
    since = audit_since()
    second = workflow.approve(agent, doc)
    first.refresh_from_db()
    assert first.state == PackageState.SUPERSEDED
    assert second.state == PackageState.APPROVED
    assert second.base_id == first.pk
    only_event(since(), "package.superseded")


def test_expansion_reopens_the_dimensions_that_cover_it(workflow, agent):
    workflow.approve(agent)
    doc = manifest_for(agent)
    doc["credentials"]["max_ttl_seconds"] = 3600
    package = workflow.submit(agent, doc)
    assert package.state == PackageState.IN_REVIEW
    assert package.diff["is_expansion"] is True
    states = {s.dimension: s.state for s in package.signoffs.all()}
    assert states.pop("pam") == SignOffState.PENDING  # PAM-4 covers the credential lifetime
    assert set(states.values()) == {SignOffState.CARRIED_OVER}


def test_pure_narrowing_carries_signoffs_over(workflow, agent, audit_since):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["external_apis"] = []
    doc["credentials"]["max_ttl_seconds"] = 600
    since = audit_since()
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.APPROVED
    assert second.carried_over is True
    assert second.expires_at == first.expires_at
    assert {s.state for s in second.signoffs.all()} == {SignOffState.CARRIED_OVER}
    events = since()
    carried = only_event(events, "package.signoffs_carried_over")
    assert carried.data["from_version"] == first.version
    only_event(events, "package.approved")


def test_a_narrowing_that_shortens_the_lifetime_expires_by_it(workflow, agent):
    """A version that only narrows carries every sign-off over and keeps the old expiry,
    unless the lifetime it asks for (`approval_valid_days`) ends sooner."""
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["approval_valid_days"] = 7
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.APPROVED
    assert second.review_plan["mode"] == "carried"
    assert second.expires_at == whole_second(second.approved_at + timedelta(days=7))


def test_recertification_is_never_carried_over(workflow, agent):
    first = workflow.approve(agent)
    package = workflow.create(agent, first.manifest, is_recertification=True)
    package = package_submit(actor=Actor.for_user(workflow.owner), package=package)
    assert package.state == PackageState.IN_REVIEW
