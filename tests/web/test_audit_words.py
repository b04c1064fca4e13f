"""The audit trail in words: a sentence per action and the recorded data as labelled facts."""

import re
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from signoffs.models import Verdict
from web import audit_words
from web.selectors import KNOWN_ACTIONS

pytestmark = pytest.mark.django_db


def test_a_decision_reads_as_who_did_what_to_which_version(workflow, agent):
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    workflow.decide(package, "security", verdict=Verdict.REQUEST_CHANGES, comment="Too wide.")
    decided = AuditEvent.objects.filter(action="signoff.decided").order_by("seq")
    approved, changes = [audit_words.event_sentence(e) for e in decided]
    assert approved == "iam1 approved the IAM sign-off of support-assistant v1"
    assert changes == "security1 requested changes on the Security sign-off of support-assistant v1"
    facts = {f.label: f.value for f in audit_words.event_facts(decided[0])}
    assert facts["State"] == "Pending → Approved"
    assert facts["Dimension"] == "IAM" and facts["Verdict"] == "Approved"
    assert facts["Comment"] == "Checked."


def test_every_action_the_product_writes_has_a_sentence(workflow, agent):
    """Every action of the workflow, and every action the page suggests, reads as words."""
    package = workflow.approve(agent)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"package.created", "package.submitted", "signoff.decided", "package.approved"} <= (
        actions
    )
    missing = (actions | set(KNOWN_ACTIONS)) - set(audit_words.SENTENCES)
    assert not missing
    for event in AuditEvent.objects.all():
        sentence = audit_words.event_sentence(event)
        assert "recorded" not in sentence and "{" not in sentence, sentence
    approved = AuditEvent.objects.get(action="package.approved")
    assert audit_words.event_sentence(approved) == (
        f"support-assistant v{package.version} is approved: every sign-off is complete"
    )


def test_every_action_named_in_the_code_has_a_sentence():
    """An action written as a literal anywhere in the product reads as words on the pages."""
    root = Path(__file__).resolve().parents[2]
    apps = ["agents", "approvals", "audit", "identity", "signoffs", "tokens", "outbox", "web"]
    named = {
        match
        for app in apps
        for path in (root / app).rglob("*.py")
        for match in re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text())
    }
    assert {"user.created", "user.email_changed", "agent.suspended"} <= named
    assert not named - set(audit_words.SENTENCES)


def test_an_unknown_action_or_a_value_the_event_lacks_falls_back_to_a_plain_sentence(db, owner):
    with transaction.atomic():
        unknown = audit_record(actor=Actor.for_user(owner), action="test.event", agent_slug="x")
        lacking = audit_record(actor=Actor.for_user(owner), action="signoff.escalated")
    assert audit_words.event_sentence(unknown) == "owner recorded test.event on x"
    assert audit_words.event_sentence(lacking) == "owner recorded signoff.escalated"


def test_system_jobs_and_gate_decisions_in_words(db):
    with transaction.atomic():
        escalated = audit_record(
            actor=Actor.system("celery:reviews_escalate"),
            action="signoff.escalated",
            agent_slug="support-assistant",
            package_version=4,
            data={"dimension": "pam", "pending_days": 7, "sla_days": 5, "escalated_to": ["pam2"]},
        )
        denied = audit_record(
            actor=Actor.system("ci"),
            action="gate.checked",
            agent_slug="support-assistant",
            package_version=3,
            data={"decision": "deny", "reasons": ["scope_mismatch"], "requested_digest": None},
        )
    assert audit_words.event_sentence(escalated) == (
        "The PAM sign-off of support-assistant v4 waited 7 days (review target 5 days) "
        "and was escalated"
    )
    assert audit_words.event_sentence(denied) == (
        "Countersign (ci) asked the release gate about support-assistant v3: "
        "denied (scope_mismatch)"
    )
    facts = {f.label: f.value for f in audit_words.event_facts(escalated)}
    assert facts["Escalated to"] == "pam2" and facts["Review target (days)"] == "5"


def test_the_audit_page_shows_sentences_and_facts_not_model_labels(client, workflow, agent):
    workflow.approve(agent)
    client.force_login(workflow.reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    assert "iam1 approved the IAM sign-off of support-assistant v1" in html
    assert re.search(r"<dt>State</dt><dd>Pending → Approved</dd>", html)
    assert "approvals.approvalpackage" not in html and "signoffs.decision" not in html
    assert "{&#x27;" not in html  # no Python dict text


def test_the_agents_timeline_shows_sentences(client, workflow, agent, owner):
    workflow.approve(agent)
    client.force_login(owner)
    html = client.get(reverse("agent-detail", args=[agent.slug])).content.decode()
    assert "owner submitted support-assistant v1 for review" in html
    assert "pam1 approved the PAM sign-off of support-assistant v1" in html
