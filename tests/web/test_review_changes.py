"""The review page shows what changed first: entries added or widened in full, old -> new."""

import copy

import pytest
from django.urls import reverse

from signoffs.models import Dimension
from tests.web.dom import parse

pytestmark = pytest.mark.django_db


def review_page(client, user, package):
    client.force_login(user)
    response = client.get(reverse("package-detail", args=[package.agent.slug, package.version]))
    assert response.status_code == 200
    return parse(response.content)


def entry(doc, kind_key, ident):
    return next(e for e in doc["scope"][kind_key] if e["id"] == ident)


@pytest.fixture
def second(workflow, agent):
    """v2 of an approved v1: one entry added, two widened, one narrowed, one removed."""
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    entry(doc, "tools", "zendesk")["access"] = "admin"
    entry(doc, "actions", "refund.issue")["constraints"]["max_amount_eur"] = 100
    entry(doc, "datasets", "orders.history")["classification"] = "public"
    doc["scope"]["tools"] = [e for e in doc["scope"]["tools"] if e["id"] != "kb-search"]
    doc["scope"]["tools"].append(
        {
            "id": "billing-api",
            "access": "write",
            "trust_boundary": "external",
            "classification": "confidential",
            "privileged": True,
            "constraints": {"max_calls": 10, "human_in_loop": True},
            "justification": "Reads and corrects invoices.",
        }
    )
    doc["credentials"]["jit"] = False
    doc["enforcement"]["mode"] = "monitor"
    doc["kill_switch"]["owner"] = "someone-else"
    doc["credentials"]["max_ttl_seconds"] = 300
    return workflow.submit(agent, doc)


def facts(article) -> dict[str, str]:
    """Return an entry's attributes as the page shows them: label -> text."""
    terms = [dt.text() for dt in article.find_all("dt")]
    values = [dd.text() for dd in article.find_all("dd")]
    return dict(zip(terms, values, strict=True))


def test_each_added_or_widened_entry_is_shown_whole_with_old_and_new_values(
    client, second, reviewers
):
    page = review_page(client, reviewers[Dimension.SECURITY][0], second)
    articles = page.find(data_testid="entries-changed").find_all("article")
    shown = {article.find("h4").text(): facts(article) for article in articles}
    assert shown == {
        "Widened Action refund.issue": {
            "Access": "Execute",
            "Trust boundary": "Internal",
            "Data classification": "Internal",
            "Privileged flag": "yes",
            "Constraints": "max_amount_eur = 50, requires_human_approval_above_eur = 20 → "
            "max_amount_eur = 100, requires_human_approval_above_eur = 20 (scope expansion)",
            "Justification": "Small goodwill refunds without waiting for an agent.",
        },
        "New Tool billing-api": {
            "Access": "Write",
            "Trust boundary": "External",
            "Data classification": "Confidential",
            "Privileged flag": "yes",
            "Constraints": "max_calls = 10, human_in_loop = yes",
            "Justification": "Reads and corrects invoices.",
        },
        "Widened Tool zendesk": {
            "Access": "Write → Admin (scope expansion)",
            "Trust boundary": "Third party",
            "Data classification": "Internal",
            "Privileged flag": "no",
            "Constraints": "none set",
            "Justification": "Ticketing system of record.",
        },
    }
    # A screen reader hears which value is the old one.
    zendesk = next(a for a in articles if "zendesk" in a.find("h4").text())
    changed = zendesk.find("dd", class_="changed")
    assert changed.text(spoken=True) == "before: Write → now: Admin (scope expansion)"


def test_every_other_change_is_listed_in_words_those_needing_review_first(
    client, second, reviewers
):
    page = review_page(client, reviewers[Dimension.SECURITY][0], second)
    rows = [
        [cell.text() for cell in row.find_all("td")]
        for row in page.find(data_testid="other-changes").find("tbody").find_all("tr")
    ]
    assert rows == [
        ["Scope expansion", "Credentials", "Just-in-time credential issuance credentials.jit",
         "yes", "no"],
        ["Scope expansion", "Enforcement", "Enforcement mode enforcement.mode", "Enforce",
         "Monitor only"],
        ["Commitment change", "Kill switch and rollback", "Kill-switch owner kill_switch.owner",
         "oncall-customer-care", "someone-else"],
        ["Scope narrowing", "Credentials",
         "Maximum credential TTL (seconds) credentials.max_ttl_seconds", "900", "300"],
        ["Scope narrowing", "Dataset orders.history",
         "Data classification scope.datasets[orders.history].classification", "Internal",
         "Public"],
        ["Scope narrowing", "Tool", "kb-search scope.tools[kb-search]", "in the scope",
         "removed"],
    ]  # fmt: skip


def test_each_other_change_names_its_field_in_words_then_its_path(client, second, reviewers):
    """As in the editor's diff: the field's words, then its manifest path in a <code>."""
    page = review_page(client, reviewers[Dimension.SECURITY][0], second)
    fields = [
        row.find_all("td")[2]
        for row in page.find(data_testid="other-changes").find("tbody").find_all("tr")
    ]
    assert [(cell.find("code").attrs["class"], cell.find("code").text()) for cell in fields] == [
        ("path", "credentials.jit"),
        ("path", "enforcement.mode"),
        ("path", "kill_switch.owner"),
        ("path", "credentials.max_ttl_seconds"),
        ("path", "scope.datasets[orders.history].classification"),
        ("path", "scope.tools[kb-search]"),
    ]


def test_the_scope_table_marks_each_changed_row(client, second, reviewers):
    page = review_page(client, reviewers[Dimension.SECURITY][0], second)
    table = page.find("table", class_="scope-table")
    marks = {
        row.find_all("td")[2].text(): row.find_all("td")[0].text()
        for row in table.find("tbody").find_all("tr")
    }
    assert marks == {
        "ticket.create": "Unchanged",
        "refund.issue": "Widened",
        "billing-api": "New",
        "zendesk": "Widened",
        "crm.customers": "Unchanged",
        "orders.history": "Narrowed",
        "https://payments.internal.example.com/v2/refunds": "Unchanged",
        "https://api.example-translate.com/v1/translate": "Unchanged",
        "kb-search": "Removed",
    }
    zendesk = next(r for r in table.find_all("tr") if "zendesk" in r.text())
    assert zendesk.classes == {"changed", "widened"}
    assert [cell.text() for cell in zendesk.find_all("td", class_="changed")] == [
        "Write → Admin (scope expansion)"
    ]


def test_the_changes_come_first_and_approve_last_after_the_evidence(client, second, reviewers):
    client.force_login(reviewers[Dimension.SECURITY][0])
    html = client.get(reverse("package-detail", args=[second.agent.slug, second.version]))
    html = html.content.decode()
    order = [
        html.index('id="changes"'),
        html.index('id="scope"'),
        html.index('id="details-title"'),
        html.index('id="signoffs-title"'),
        html.index('id="decide-security"'),
    ]
    assert order == sorted(order)
    form = parse(html).find("section", id="decide-security").find_all("form")[-1]
    buttons = [(b.attrs.get("value"), b.text()) for b in form.find_all("button")]
    assert buttons == [
        ("", ""),  # the hidden button Enter presses decides nothing
        ("request_changes", "Request changes"),
        ("reject", "Reject"),
        ("approve", "Approve Security…"),
    ]
    # Nothing but the buttons follows the checklist and comment.
    assert html.index('name="security-comment"') < html.index('value="request_changes"')
    link = parse(html).find(data_testid="go-decide-security")
    assert link.attrs["href"] == "#decide-security"


def test_a_first_version_says_everything_is_new(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    page = review_page(client, reviewers[Dimension.IAM][0], package)
    assert "The first version: nothing was approved before" in page.find(id="changes").text()
    assert not page.find_all(data_testid="entries-changed")
    header = [th.text() for th in page.find("table", class_="scope-table").find_all("th")]
    assert header[:4] == ["Kind", "Identifier", "Comments", "Access"]
