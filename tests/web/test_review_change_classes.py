"""The review page names each change's class in words, and why a review is needed again."""

import copy
import re

import pytest
from django.urls import reverse

from approvals.models import PackageState
from tests.web.dom import parse

pytestmark = pytest.mark.django_db


def diff_items(html: str) -> list[tuple[str, str]]:
    """Return (class attribute, text) of each item of the editor's change list."""
    listing = html.split('<ul class="diff-list">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<li class="([a-z]+)">(.*?)</li>', listing, re.S)


def review_changes(html: str) -> list[tuple[str, list[str]]]:
    """Return (class attribute, cells) of each row of the review page's change table."""
    table = parse(html).find(data_testid="other-changes")
    return [
        (row.attrs["class"], [cell.text() for cell in row.find_all("td")])
        for row in table.find("tbody").find_all("tr")
    ]


def test_every_change_is_listed_with_its_class_in_words_review_first(
    client, workflow, agent, reviewers
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["credentials"]["jit"] = False
    doc["credentials"]["max_ttl_seconds"] = 300
    doc["kill_switch"]["owner"] = "someone-else"
    doc["description"] = "Now described."
    second = workflow.submit(agent, doc)
    client.force_login(reviewers["security"][0])
    response = client.get(reverse("package-detail", args=[agent.slug, second.version]))
    html = response.content.decode()
    assert review_changes(html) == [
        (
            "expansion",
            [
                "Scope expansion",
                "Credentials",
                "Just-in-time credential issuance credentials.jit",
                "yes",
                "no",
            ],
        ),
        (
            "commitment",
            [
                "Commitment change",
                "Kill switch and rollback",
                "Kill-switch owner kill_switch.owner",
                "oncall-customer-care",
                "someone-else",
            ],
        ),
        (
            "narrowing",
            [
                "Scope narrowing",
                "Credentials",
                "Maximum credential TTL (seconds) credentials.max_ttl_seconds",
                "900",
                "300",
            ],
        ),
        (
            "narrative",
            ["Narrative", "About", "Description description", "not set", "Now described."],
        ),
    ]
    notice = html.split('data-testid="review-needed"', 1)[1].split("</div>", 1)[0]
    assert "expands the scope and changes commitments approved in" in notice
    assert "1 scope expansion and 1 commitment change listed below." in notice


def test_a_commitment_change_alone_says_so(client, workflow, agent, owner):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Roll forward."
    second = workflow.submit(agent, doc)
    client.force_login(owner)
    html = client.get(reverse("package-detail", args=[agent.slug, second.version])).content
    html = html.decode()
    notice = html.split('data-testid="review-needed"', 1)[1].split("</div>", 1)[0]
    assert "changes commitments approved in" in notice and "expands" not in notice
    assert "1 commitment change listed below." in notice
    assert [cls for cls, _ in review_changes(html)] == ["commitment"]
    assert (
        "so only the sign-offs whose checklist items cover the changed fields are needed again: "
        "Compliance (pending), the others carry over: IAM, PAM, Security."
        in " ".join(notice.split())
    )
    reason = parse(html).find(data_testid="review-reason-compliance").text()
    assert reason == "Re-opened: CMP-5 covers the rollback plan (rollback.plan)."


def test_a_reworded_version_says_its_signoffs_were_carried_over(client, workflow, agent, owner):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["justification"] = "Reworded reasons."
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.APPROVED
    client.force_login(owner)
    html = client.get(reverse("package-detail", args=[agent.slug, second.version])).content
    html = html.decode()
    notice = html.split('data-testid="carried-over"', 1)[1].split("</div>", 1)[0]
    assert "only rewords the narrative approved in v1" in notice
    assert 'data-testid="review-needed"' not in html
    assert [cls for cls, _ in review_changes(html)] == ["narrative"]


def test_the_editor_lists_the_changes_that_need_review(client, workflow, agent, owner):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["kill_switch"]["procedure"] = "Unplug it."
    doc["justification"] = "Reworded."
    draft = workflow.create(agent, doc)
    client.force_login(owner)
    html = client.get(reverse("package-edit", args=[agent.slug, draft.version])).content.decode()
    assert "These changes need a review again, by each team with a checklist item" in html
    assert diff_items(html) == [
        (
            "commitment",
            "Kill-switch procedure: Disable the agent&#x27;s route at the gateway "
            "and revoke its SPIRE entry. → Unplug it. "
            '<code class="path">kill_switch.procedure</code> (commitment change)',
        ),
    ]


def test_the_editor_names_a_changed_entry_field_in_words_with_its_path(
    client, workflow, agent, owner
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    tool = doc["scope"]["tools"][0]
    tool["trust_boundary"] = "third_party"
    draft = workflow.create(agent, doc)
    client.force_login(owner)
    html = client.get(reverse("package-edit", args=[agent.slug, draft.version])).content.decode()
    item = parse(html).find("ul", class_="diff-list").find("li")
    assert item.text() == (
        f"Tool {tool['id']}: trust boundary Internal → Third party "
        f"scope.tools[{tool['id']}].trust_boundary (scope expansion)"
    )
    assert item.find("code").text() == f"scope.tools[{tool['id']}].trust_boundary"


def test_a_carried_over_signoff_shows_the_decisions_it_stands_on(client, workflow, agent, owner):
    first = workflow.approve(agent)
    decided = first.signoffs.get(dimension="security")
    doc = copy.deepcopy(first.manifest)
    doc["justification"] = "Reworded reasons."
    second = workflow.submit(agent, doc)
    client.force_login(owner)
    page = parse(client.get(reverse("package-detail", args=[agent.slug, second.version])).content)

    card = page.find(id="signoff-security")
    required = decided.required_approvals
    assert f"{required} of {required} approval" in card.text()
    assert all(d.reviewer.username in card.text() for d in decided.decisions.all())
    assert "No decision yet." not in card.text()
    assert "Answer " not in card.text()  # decisions of v1 are answered on v1
