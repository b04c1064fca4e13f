"""The product owner's home: packages needing action first, who is still pending, status counts."""

import copy
import re

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from approvals.models import PackageState
from signoffs.models import Verdict
from tests.factories import AgentFactory, UserFactory, manifest_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(owner, workflow, reviewers):
    """One agent of the owner per situation, and another owner's agent with a draft."""
    agents = {
        name: AgentFactory(slug=f"{name}-agent", name=f"{name.title()} agent", owners=[owner])
        for name in ("draft", "waiting", "changes", "answered", "continued", "rejected")
    }
    workflow.create(agents["draft"])
    waiting = workflow.submit(agents["waiting"])
    workflow.decide(waiting, "iam")
    assign_perm("agents.review_security", reviewers["security"][1], agents["waiting"])
    for name in ("changes", "answered", "continued"):
        package = workflow.submit(agents[name])
        workflow.decide(
            package,
            "pam",
            verdict=Verdict.REQUEST_CHANGES,
            comment=f"PAM wants a shorter TTL for {name}.",
        )
    workflow.submit(agents["answered"])
    workflow.create(agents["continued"])
    rejected = workflow.submit(agents["rejected"])
    workflow.decide(rejected, "security", verdict=Verdict.REJECT, comment="Too broad.")
    other = UserFactory(username="someone-else", groups=["product-owner"])
    stranger = AgentFactory(slug="stranger-agent", team="customer-care", owners=[other])
    from approvals.services import package_create
    from audit.actors import Actor

    package_create(actor=Actor.for_user(other), agent=stranger, manifest=manifest_for(stranger))
    return agents


def slugs(items):
    return [item.package.agent.slug for item in items]


def test_the_owner_sees_what_needs_action_first(client, owner, fleet):
    client.force_login(owner)
    response = client.get(reverse("dashboard"))
    home = response.context["owner_home"]
    assert sorted(slugs(home.drafts)) == ["continued-agent", "draft-agent"]
    assert sorted(slugs(home.closed)) == ["changes-agent", "continued-agent", "rejected-agent"]
    # Oldest submission first: it has waited longest.
    assert slugs(home.in_review) == ["waiting-agent", "answered-agent"]
    html = response.content.decode()
    # The owner's section comes before the reviewer's queue and the counts at a glance.
    assert html.index('id="my-packages"') < html.index('aria-label="At a glance"')
    assert "stranger-agent" not in html


def test_a_sent_back_version_names_who_which_dimension_and_the_comment(client, owner, fleet):
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    changes = section(html, "sent-back-changes-agent")
    assert "Changes requested" in changes
    assert "<strong>pam1</strong>" in changes
    assert "(PAM reviewer) requested changes" in changes
    assert "PAM wants a shorter TTL for changes." in changes
    clone = reverse("package-clone", args=["changes-agent", 1])
    assert f'action="{clone}"' in changes
    rejected = section(html, "sent-back-rejected-agent")
    assert "(Security reviewer) rejected it" in rejected and "Too broad." in rejected
    # A version already answered by a draft offers that draft, not a second one.
    continued = section(html, "sent-back-continued-agent")
    assert reverse("package-edit", args=["continued-agent", 2]) in continued
    assert "Continue draft v2" in continued


def test_in_review_shows_who_is_still_pending_per_signoff(client, owner, fleet):
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    progress = {
        dimension: text(section(html, f"progress-waiting-agent-{dimension}", tag="li"))
        for dimension in ("iam", "pam", "security", "compliance")
    }
    assert progress["iam"] == "IAM Approved by iam1"
    assert progress["pam"] == "PAM Pending 0 of 1 approval; waiting for any PAM reviewer"
    assert progress["security"] == (
        "Security Pending 0 of 2 approvals; waiting for security2 (assigned)"
    )
    assert progress["compliance"].endswith("waiting for any Compliance reviewer")


def test_an_unassigned_signoff_waits_for_any_reviewer_of_its_dimension(
    client, owner, workflow, agent
):
    """The words of the agent page's Reviewers card, and an IAM sign-off reads well too."""
    workflow.submit(agent)
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    progress = text(section(html, f"progress-{agent.slug}-iam", tag="li"))
    assert progress == "IAM Pending 0 of 1 approval; waiting for any IAM reviewer"


def test_a_carried_over_signoff_names_the_version_and_reviewers_it_stands_on(
    client, owner, agent, workflow
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1 and hand open cases to the support desk."
    workflow.submit(agent, doc)
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    progress = {
        dimension: text(section(html, f"progress-{agent.slug}-{dimension}", tag="li"))
        for dimension in ("pam", "security", "compliance")
    }
    # Said as the review page says it: "Carried over from v1", then who decided it there.
    assert progress["pam"] == "PAM Carried over from v1, by pam1"
    assert progress["security"] == "Security Carried over from v1, by security1, security2"
    assert progress["compliance"].startswith("Compliance Pending 0 of 1 approval")


def test_state_counts_link_to_their_filtered_lists(client, owner, fleet):
    client.force_login(owner)
    response = client.get(reverse("dashboard"))
    html = response.content.decode()
    counts = dict(
        re.findall(r'<a href="/agents/\?status=(\w+)"><span class="n">(\d+)</span>', html)
    )
    # Agents the owner sees: their own and their team's (the stranger's draft is new too).
    assert counts == {
        "new": "2",
        "in_review": "2",
        "changes_requested": "2",
        "approved": "0",
        "rejected": "1",
        "expired": "0",
        "suspended": "0",
        "retired": "0",
    }
    for status, n in counts.items():
        listed = client.get(reverse("agent-list"), {"status": status})
        assert len(listed.context["page"].object_list) == int(n), status


def test_drafts_link_to_their_editor(client, owner, fleet):
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    assert reverse("package-edit", args=["draft-agent", 1]) in html


def test_a_reviewer_without_agents_sees_no_owner_section(client, reviewers, fleet):
    client.force_login(reviewers["iam"][1])
    response = client.get(reverse("dashboard"))
    assert response.context["owner_home"] is None
    assert 'id="my-packages"' not in response.content.decode()


def test_a_new_product_owner_is_told_nothing_needs_action(client, db):
    newcomer = UserFactory(username="newcomer", groups=["product-owner"])
    client.force_login(newcomer)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Nothing needs your action" in html


def test_an_approved_package_leaves_the_list(client, owner, agent, workflow):
    package = workflow.approve(agent)
    assert package.state == PackageState.APPROVED
    client.force_login(owner)
    home = client.get(reverse("dashboard")).context["owner_home"]
    assert not (home.drafts or home.closed or home.in_review)


def add_situations(workflow, owner, reviewers, start, count):
    """Give the owner `count` agents in each situation the home page shows."""
    for n in range(start, start + count):
        draft, waiting, sent_back = (
            AgentFactory(slug=f"{kind}-{n}", owners=[owner])
            for kind in ("draft", "waiting", "sent-back")
        )
        workflow.create(draft)
        package = workflow.submit(waiting)
        workflow.decide(package, "iam", reviewer=reviewers["iam"][n % 2])
        assign_perm("agents.review_pam", reviewers["pam"][n % 2], waiting)
        package = workflow.submit(sent_back)
        workflow.decide(package, "security", verdict=Verdict.REQUEST_CHANGES, comment="No.")
        # In review with three sign-offs carried over from the approved v1.
        carried = AgentFactory(slug=f"carried-{n}", owners=[owner])
        doc = copy.deepcopy(workflow.approve(carried).manifest)
        doc["rollback"]["plan"] = f"Redeploy v1 ({n})."
        workflow.submit(carried, doc)


def test_the_owner_home_reads_a_fixed_number_of_queries(
    client, owner, workflow, reviewers, django_assert_num_queries
):
    client.force_login(owner)
    url = reverse("dashboard")
    # Each count follows a first view, as the lead-time chart is computed once after
    # the newest decision and then read from the cache (one query more when computed).
    # One query reads the decisions the carried-over sign-offs stand on.
    add_situations(workflow, owner, reviewers, 0, 1)
    with django_assert_num_queries(24):
        client.get(url)
    with django_assert_num_queries(23):
        small = client.get(url)
    add_situations(workflow, owner, reviewers, 1, 3)
    with django_assert_num_queries(24):
        client.get(url)
    with django_assert_num_queries(23):
        large = client.get(url)
    home = large.context["owner_home"]
    assert (len(home.drafts), len(home.closed), len(home.in_review)) == (4, 4, 8)
    assert small.content != large.content


def section(html: str, testid: str, tag: str = "li") -> str:
    """Return the element carrying data-testid, up to its matching closing tag."""
    start = html.index(f'data-testid="{testid}"')
    start = html.rindex(f"<{tag}", 0, start)
    depth, position = 0, start
    pattern = re.compile(rf"<(/?){tag}\b")
    for match in pattern.finditer(html, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            position = html.index(">", match.end()) + 1
            break
    return html[start:position]


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())
