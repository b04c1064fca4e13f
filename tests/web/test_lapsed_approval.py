"""An approval past its expiry reads as expired at once, on the pages and in the usage API,
before the expiry job marks it: what people see agrees with the gate's denial."""

import copy
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from agents.models import AgentStatus
from approvals.models import ApprovalPackage, PackageState
from approvals.recertification import recertification_open
from approvals.selectors import (
    agent_status,
    in_force,
    package_in_force,
    shown_as,
    state_shown_expression,
)
from audit.actors import Actor
from tests.factories import AgentFactory, UserFactory
from tests.web.test_review_permissions import approve_data
from web.selectors import package_state_counts

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def _lapse(package, **delta):
    ApprovalPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(**delta or {"minutes": 1})
    )
    package.refresh_from_db()


def test_the_agent_page_shows_a_lapsed_approval_as_expired(client, workflow, agent, owner):
    approved = workflow.approve(agent)
    client.force_login(owner)
    page = reverse("agent-detail", args=[agent.slug])
    assert 'data-testid="agent-status">Approved<' in client.get(page).content.decode()
    listed = client.get(reverse("agent-list")).content.decode()
    assert f"v{approved.version} <span" in listed
    review = client.get(approved.get_absolute_url()).content.decode()
    assert "; expires " in review and 'data-testid="runtime-policy"' in review
    _lapse(approved)
    html = client.get(page).content.decode()
    assert 'data-testid="agent-status">Approval expired<' in html
    assert "The last approved version was <a href=" in html and "(expired)" in html
    assert '<span class="badge expired">Expired</span>' in html  # in the version history
    review = client.get(approved.get_absolute_url()).content.decode()
    assert 'data-testid="package-state">Expired<' in review
    # Past tense, and no bundle of a scope the gate no longer allows, job or not.
    assert "; was to expire " in review and "; expires " not in review
    assert 'data-testid="runtime-policy"' not in review
    listed = client.get(reverse("agent-list")).content.decode()
    assert f"v{approved.version} <span" not in listed  # no approval in force in the list


def test_the_usage_api_names_no_version_in_force_once_it_lapsed(api, workflow, agent, owner):
    approved = workflow.approve(agent)
    path = f"/api/v1/agents/{agent.slug}/usage"
    assert api(owner).get(path).json()["package_version"] == approved.version
    _lapse(approved)
    assert api(owner).get(path).json()["package_version"] is None


def test_the_packages_list_and_api_filter_a_lapsed_approval_as_expired(
    client, api, workflow, owner
):
    """The packages page and `GET /api/v1/packages` filter by the state they show."""
    kept, lapsed = (
        workflow.approve(AgentFactory(slug=s, owners=[owner])) for s in ("agent-a", "agent-b")
    )
    _lapse(lapsed)

    def api_listed(state):
        answer = api(owner).get("/api/v1/packages", {"state": state}).json()
        return {(row["agent"], row["state"]) for row in answer["results"]}

    assert api_listed("approved") == {("agent-a", "approved")}
    assert api_listed("expired") == {("agent-b", "expired")}
    client.force_login(owner)
    page = client.get(reverse("package-list"), {"state": "expired"}).content.decode()
    assert f'href="{lapsed.get_absolute_url()}"' in page
    assert f'href="{kept.get_absolute_url()}"' not in page


def test_shown_as_selects_what_state_shown_says(workflow, owner):
    """`shown_as()` and `state_shown_expression()` are the database's twins of `state_shown`:
    the three agree for every state, and so do the dashboard's counts that link to the list."""
    agents = [AgentFactory(slug=f"s{n}", owners=[owner]) for n in range(3)]
    packages = [workflow.approve(a) for a in agents[:2]] + [workflow.submit(agents[2])]
    _lapse(packages[0])
    annotated = dict(
        ApprovalPackage.objects.annotate(shown=state_shown_expression()).values_list("pk", "shown")
    )
    for state in PackageState.values:
        selected = set(
            ApprovalPackage.objects.filter(shown_as([state])).values_list("pk", flat=True)
        )
        shown = {p.pk for p in ApprovalPackage.objects.all() if p.state_shown == state}
        assert selected == shown == {pk for pk, value in annotated.items() if value == state}
    counts = package_state_counts(owner)
    assert (counts["approved"], counts["expired"], counts["in_review"]) == (1, 1, 1)


def _status(agent):
    return agent_status(agent, agent.packages.order_by("-version"))


def test_a_lapsed_approval_under_re_certification_reads_as_in_review(workflow, agent):
    approved = workflow.approve(agent)
    assert _status(agent) == (AgentStatus.APPROVED, approved.risk_tier)
    _lapse(approved, days=-10)  # due for re-certification: ten days left
    assert recertification_open(actor=SYSTEM, package=approved) is not None
    _lapse(approved)
    assert _status(agent)[0] == AgentStatus.IN_REVIEW
    assert package_in_force(agent) is None


def test_in_force_selects_what_has_lapsed_does_not(workflow, owner):
    """`in_force()` is the queryset twin of `has_lapsed`: they agree on every package."""
    agents = [AgentFactory(slug=f"a{n}", owners=[owner]) for n in range(4)]
    packages = [workflow.approve(a) for a in agents[:3]] + [workflow.submit(agents[3])]
    _lapse(packages[0], seconds=1)
    ApprovalPackage.objects.filter(pk=packages[2].pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    selected = set(ApprovalPackage.objects.filter(in_force()).values_list("pk", flat=True))
    held = {
        p.pk
        for p in ApprovalPackage.objects.all()
        if p.state == PackageState.APPROVED and not p.has_lapsed
    }
    assert selected == held == {packages[1].pk, packages[2].pk}


def test_the_database_refuses_an_approval_without_an_expiry(workflow, agent):
    """The gate's rule needs an instant to stop allowing at: no approval is kept without one,
    however it is written."""
    approved = workflow.approve(agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPackage.objects.filter(pk=approved.pk).update(expires_at=None)
    in_review = workflow.submit(AgentFactory(slug="in-review", owners=list(agent.owners.all())))
    assert in_review.expires_at is None


def test_the_review_page_lets_decide_once_the_carried_approval_lapsed(
    client, workflow, agent, reviewers
):
    """A decision carried over from an approval past its expiry counts no more on the page, as
    in the service, before the expiry job marks it: the form shows and the decision records."""
    first = workflow.approve(agent)
    iam1 = reviewers["iam"][0]
    iam1.groups.add(*UserFactory(groups=["compliance"]).groups.all())
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    client.force_login(iam1)
    _lapse(first, seconds=1)
    assert first.state == PackageState.APPROVED  # the expiry job has not run
    page = client.get(second.get_absolute_url())
    card = next(c for c in page.context["cards"] if c["signoff"].dimension == "compliance")
    assert card["form"] is not None and card["refusal"] == ""
    data = approve_data(workflow, second, "compliance")
    decide = reverse("package-decide", args=[agent.slug, second.version, "compliance"])
    assert client.post(decide, data).status_code == 302
    assert second.signoffs.get(dimension="compliance").decisions.get().reviewer == iam1
