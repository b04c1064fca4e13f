"""Review depth follows risk: a low-risk, read-only agent with no privileged pathway gets
the light path; high and critical keep every item; the table lives in one setting."""

import pytest
from django.conf import settings

from agents.vocabulary import Deployment
from approvals.depth import FULL, LIGHT, review_depth
from config.errors import InvalidInput
from signoffs.models import Checklist, SignOffState
from tests.factories import AgentFactory, manifest_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def copilot(owner):
    return AgentFactory(
        slug="hr-policy-copilot", deployment=Deployment.INTERNAL_COPILOT, owners=[owner]
    )


def test_the_table_names_required_items_of_the_current_checklists(checklists):
    table = settings.COUNTERSIGN["REVIEW_DEPTH"]
    assert set(table) == {"low", "medium", "high", "critical"}
    assert table["high"] == {} and table["critical"] == {}
    for tier, dimensions in table.items():
        for dimension, codes in dimensions.items():
            checklist = Checklist.objects.get(dimension=dimension, is_active=True)
            required = {item.code for item in checklist.items.all() if item.required}
            assert set(codes) <= required, (tier, dimension)


def test_a_low_read_only_agent_gets_the_light_path(workflow, copilot, audit_since):
    since = audit_since()
    package = workflow.submit(copilot, manifest_for(copilot, "hr-copilot.yaml"))
    assert package.risk_tier == "low"
    depth = package.review_plan["depth"]
    assert depth["rule"] == LIGHT
    assert depth["optional_items"]["pam"] == ["PAM-2", "PAM-4", "PAM-5"]
    pam = package.signoffs.get(dimension="pam")
    assert pam.required_items == ["PAM-1", "PAM-3", "PAM-6"]
    iam = package.signoffs.get(dimension="iam")
    assert iam.required_items == ["IAM-1", "IAM-2", "IAM-3", "IAM-4", "IAM-5", "IAM-6"]
    submitted = [e for e in since() if e.action == "package.submitted"]
    assert submitted[0].data["review_plan"]["depth"]["rule"] == LIGHT


def test_the_light_path_approves_with_the_shorter_checklist(workflow, copilot):
    from approvals.services import signoff_decide
    from audit.actors import Actor

    package = workflow.submit(copilot, manifest_for(copilot, "hr-copilot.yaml"))
    decision = signoff_decide(
        actor=Actor.for_user(workflow.reviewers["pam"][0]),
        package=package,
        dimension="pam",
        verdict="approve",
        comment="No privileged pathway: read-only tools and data only.",
        answers={"PAM-1": True, "PAM-3": True, "PAM-6": True},
    )
    assert decision.signoff.state == SignOffState.APPROVED
    with pytest.raises(InvalidInput) as refused:
        signoff_decide(
            actor=Actor.for_user(workflow.reviewers["security"][0]),
            package=package,
            dimension="security",
            verdict="approve",
            answers={"SEC-1": True, "SEC-2": True},
        )
    assert set(refused.value.fields) == {"answers.SEC-4", "answers.SEC-5", "answers.SEC-7"}


def test_a_high_risk_agent_keeps_every_item(workflow, agent):
    package = workflow.submit(agent)
    assert package.risk_tier in ("high", "critical")
    assert package.review_plan["depth"]["rule"] == FULL
    for signoff in package.signoffs.select_related("checklist"):
        required = [i.code for i in signoff.checklist.items.all() if i.required]
        assert signoff.required_items == required


def test_writes_or_privilege_keep_a_low_tier_on_the_full_path(copilot):
    doc = manifest_for(copilot, "hr-copilot.yaml")
    doc["scope"]["tools"][0]["access"] = "write"
    depth = review_depth(tier="low", manifest=doc)
    assert depth.rule == FULL
    assert "tool policy-search has write access" in depth.explanation
    assert depth.optional == {}


def test_the_table_cannot_lighten_high_or_critical(copilot, settings):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_DEPTH": {
            tier: {"pam": ["PAM-2"]} for tier in ("low", "medium", "high", "critical")
        },
    }
    doc = manifest_for(copilot, "hr-copilot.yaml")
    assert review_depth(tier="medium", manifest=doc).rule == LIGHT
    assert review_depth(tier="high", manifest=doc).rule == FULL
    assert review_depth(tier="critical", manifest=doc).rule == FULL
