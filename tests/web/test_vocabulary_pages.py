"""Every page of the story shows stored values in words: no `customer_facing`, no "Approve by"."""

import copy
import re

import pytest
from django.urls import reverse

from agents.membership import Source, reviewer_assign
from agents.models import ObservationKind
from agents.permissions import AGENT_PERMISSIONS, fallback_permission
from agents.vocabulary import ScopeKind
from approvals.drift import CLAIM_EXCEEDED
from approvals.models import FindingReason
from audit.actors import Actor
from signoffs.models import Dimension, Verdict
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory
from tests.web.dom import parse
from web.vocabulary import VOCABULARIES

pytestmark = pytest.mark.django_db


def _raw_tokens() -> list[str]:
    """Return the values that are not words (snake_case, hyphenated), longest first: the
    vocabularies' and the codenames of an agent's object permissions (`review_iam`)."""
    tokens = {
        value
        for choices in VOCABULARIES.values()
        for value, text in choices.choices
        if ("_" in value or "-" in value) and value != text
    }
    tokens |= {codename for codename, _ in AGENT_PERMISSIONS}
    return sorted(tokens, key=len, reverse=True)


def _token_pattern(tokens) -> re.Pattern:
    return re.compile(r"(?<![\w.:/@-])(" + "|".join(map(re.escape, tokens)) + r")(?![\w-])")


TOKEN_PATTERN = _token_pattern(_raw_tokens())
# Values whose label is their upper case ("iam" for "IAM"): in lower case they are no
# word, so a sentence showing one ("any iam reviewer") shows the raw value.
ACRONYM_PATTERN = _token_pattern(
    sorted(
        value
        for choices in VOCABULARIES.values()
        for value, text in choices.choices
        if text == value.upper() != value
    )
)
# Values that are words, but not their labels ("high" for "High"), and their upper case
# ("SECURITY"): a badge or a table cell showing one of them whole shows the raw value.
LABELS = {text for choices in VOCABULARIES.values() for text in choices.labels}
RAW_WORDS = {
    shown
    for choices in VOCABULARIES.values()
    for value in choices.values
    for shown in (value, value.upper())
    if shown not in LABELS
}
# A verdict in the imperative names a button, not what someone decided.
IMPERATIVE_VERDICT = re.compile(r"\b(Approve|Reject|Request changes) by\b")


def _drop_recorded(node) -> None:
    """Leave out an audit event's "As recorded (JSON)": it shows the stored values on purpose."""
    node.children = [
        child
        for child in node.children
        if isinstance(child, str) or not (child.tag == "details" and "recorded" in child.classes)
    ]
    for child in node.children:
        if not isinstance(child, str):
            _drop_recorded(child)


def raw_values(html: bytes) -> list[str]:
    """Return each raw vocabulary value the page shows (to the eye or a screen reader)."""
    page = parse(html)
    _drop_recorded(page)
    main = page.find("main")
    text = page.text(spoken=True)
    found = [f"text: {m.group(1)}" for m in TOKEN_PATTERN.finditer(text)]
    found += [f"text: {m.group(1)}" for m in ACRONYM_PATTERN.finditer(text)]
    for node in page.iter():
        for name in ("title", "aria-label"):
            found += [
                f"{name}: {m.group(1)}" for m in TOKEN_PATTERN.finditer(node.attrs.get(name, ""))
            ]
    for node in main.iter():
        if "badge" in node.classes or node.tag in ("td", "dt", "dd", "th", "option"):
            text = node.text(spoken=True)
            first = text.split(" ")[0] if "badge" in node.classes else text
            if text in RAW_WORDS or first in RAW_WORDS:
                found.append(f"<{node.tag} class='{node.attrs.get('class', '')}'>: {text}")
    found += [f"verdict: {m.group(0)}" for m in IMPERATIVE_VERDICT.finditer(main.text())]
    return found


@pytest.fixture
def story(workflow, agent, owner, reviewers):
    """The story's states: an approved version, a wider one in review, one sent back, drift."""
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["tools"][0]["access"] = "admin"
    doc["scope"]["external_apis"].append(
        {"id": "https://api.example-crm.com/v2", "access": "write", "trust_boundary": "external"}
    )
    doc["credentials"]["method"] = "vault_dynamic"
    doc["enforcement"]["point"] = "in_app"
    second = workflow.submit(agent, doc)
    workflow.decide(second, Dimension.IAM)
    other = AgentFactory(slug="claims-helper", owners=[owner], deployment="regulated_workflow")
    sent_back = workflow.submit(other)
    workflow.decide(
        sent_back,
        Dimension.SECURITY,
        verdict=Verdict.REQUEST_CHANGES,
        comment="Narrow the translation API to read.",
    )
    finding = DriftFindingFactory(agent=agent, package=first, kind="external_api")
    draft = workflow.create(other, copy.deepcopy(sent_back.manifest))
    reviewer_assign(
        actor=Actor.system("tests"),
        agent=agent,
        user=reviewers[Dimension.SECURITY][0],
        permission=fallback_permission(Dimension.SECURITY),
        source=Source.COMMAND,
    )
    return {
        "agent": agent,
        "first": first,
        "second": second,
        "sent_back": sent_back,
        "draft": draft,
        "finding": finding,
        "owner": owner,
    }


def story_pages(story) -> list[str]:
    agent, other = story["agent"], story["sent_back"].agent
    return [
        reverse("dashboard"),
        reverse("agent-list"),
        reverse("agent-list") + "?status=in_review&deployment=customer_facing",
        reverse("agent-detail", args=[agent.slug]),
        reverse("agent-detail", args=[other.slug]),
        reverse("agent-new"),
        reverse("agent-edit", args=[agent.slug]),
        reverse("finding-handle", args=[agent.slug, story["finding"].pk]),
        *(
            reverse("package-detail", args=[p.agent.slug, p.version])
            for p in (story["first"], story["second"], story["sent_back"], story["draft"])
        ),
        reverse("package-edit", args=[other.slug, story["draft"].version]),
        reverse("package-new", args=[agent.slug]),
        reverse("token-list"),
        reverse("package-list"),
        reverse("package-list") + "?state=in_review&pending=security&risk_tier=high",
        reverse("audit-log"),
        reverse("audit-log") + f"?agent={agent.slug}",
        reverse("agent-reviewers", args=[agent.slug]),
        reverse("my-absence"),
        reverse("staff-users"),
        reverse("staff-user-edit", args=[story["owner"].pk]),
        reverse("staff-left-behind"),
    ]


@pytest.fixture
def everyone(owner, reviewers, staff):
    return [
        owner,
        *(reviewers[dimension][1] for dimension in Dimension.values),
        UserFactory(username="officer", groups=["compliance-officer"]),
        staff,
    ]


def test_no_page_of_the_story_shows_a_raw_value(client, story, everyone):
    problems = {}
    pages = 0
    shown = set()
    for user in everyone:
        client.force_login(user)
        for url in story_pages(story):
            response = client.get(url)
            if response.status_code in (403, 404):
                continue  # a page this role does not reach
            assert response.status_code == 200, (user.username, url, response.status_code)
            pages += 1
            shown.add(url)
            found = raw_values(response.content)
            if found:
                problems[f"{user.username} {url}"] = found
    assert pages > 60
    assert set(story_pages(story)) == shown  # every page, the audit log too, for some role
    assert not problems, "\n".join(f"{page}: {found}" for page, found in problems.items())


def test_no_page_of_the_story_shows_markdown_backticks(client, story, everyone):
    """Help texts and sentences are HTML: a `name` in backticks reads as stray marks."""
    problems = []
    for user in everyone:
        client.force_login(user)
        for url in story_pages(story):
            response = client.get(url)
            if response.status_code != 200:
                continue
            page = parse(response.content)
            _drop_recorded(page)
            for node in page.find("main").iter():
                if node.tag in ("textarea", "pre"):
                    node.children = []  # what a person typed or a file holds, as it is
            if "`" in page.find("main").text(spoken=True):
                problems.append(f"{user.username} {url}")
    assert not problems, problems


def test_every_reason_a_finding_is_recorded_with_has_words():
    """The drift run composes its reasons (``unapproved_`` and the kind, the kind and
    ``_changed``) and the decision point adds its own: each one is a FindingReason."""
    recorded = {f"unapproved_{kind}" for kind in ScopeKind.values}
    recorded |= {f"{kind}_changed" for kind in (ObservationKind.MODEL, ObservationKind.PROMPT)}
    recorded |= {"higher_access", CLAIM_EXCEEDED}
    assert recorded == set(FindingReason.values)


def test_the_check_finds_raw_values():
    """The check itself catches each kind of raw value it looks for."""
    page = (
        '<html><body title="third_party"><main>'
        "<p>Deployment customer_facing.</p>"
        '<span class="badge high">high risk</span>'
        "<table><tr><td>read</td><td>Read</td><td>hr.benefit_plans</td></tr></table>"
        "<p>Approve by iam1</p><dl><dd>SECURITY</dd></dl>"
        "<p>Reviewer of the pam sign-off (review_pam), not @pam1's.</p>"
        "</main></body></html>"
    )
    assert raw_values(page.encode()) == [
        "text: customer_facing",
        "text: review_pam",
        "text: pam",
        "title: third_party",
        "<span class='badge high'>: high risk",
        "<td class=''>: read",
        "<dd class=''>: SECURITY",
        "verdict: Approve by",
    ]
