"""After changes are requested, the owner sees who asked, for what, and that the rest is on hold."""

import pytest
from django.urls import reverse

from signoffs.models import Dimension, Verdict

pytestmark = pytest.mark.django_db


def test_after_changes_requested_the_other_cards_are_on_hold(
    client, workflow, agent, owner, reviewers
):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM)
    workflow.decide(
        package,
        Dimension.SECURITY,
        reviewer=reviewers[Dimension.SECURITY][1],
        verdict=Verdict.REQUEST_CHANGES,
        comment="Narrow the ticket scope to read.",
    )
    client.force_login(owner)
    response = client.get(reverse("package-detail", args=[agent.slug, package.version]))
    html = response.content.decode()
    cards = {card["signoff"].dimension: card for card in response.context["cards"]}
    held = {dimension for dimension, card in cards.items() if card["badge"] == "On hold"}
    assert held == {Dimension.PAM, Dimension.COMPLIANCE}
    assert not any(card["open"] for card in cards.values())
    for dimension in (Dimension.PAM, Dimension.COMPLIANCE):
        assert (
            f'<span class="badge waiting" data-testid="signoff-{dimension}">On hold</span>'
        ) in html
        assert (
            f'<p class="small" data-testid="held-{dimension}">'
            "On hold: changes requested by security2 (Security).</p>"
        ) in html
    assert cards[Dimension.SECURITY]["badge"] == "Changes requested"
    assert cards[Dimension.IAM]["badge"] == "Approved"
    # Each decision wears the colour of the state its verdict leads to.
    assert '<span class="badge changes_requested">Changes requested</span>' in html
    assert '<span class="badge approved">Approved</span>' in html
    assert "Needed again" not in html and ">Pending<" not in html
    reason = html.split('data-testid="state-reason"', 1)[1].split("</div>", 1)[0]
    assert "by <strong>security2</strong>" in reason
    assert '<a href="#signoff-security">Security</a>' in reason
    assert "Narrow the ticket scope to read." in reason


def test_a_rejected_version_closes_the_other_cards(client, workflow, agent, owner, reviewers):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.PAM, verdict=Verdict.REJECT, comment="Static secrets.")
    client.force_login(owner)
    response = client.get(reverse("package-detail", args=[agent.slug, package.version]))
    assert '<span class="badge rejected">Rejected</span>' in response.content.decode()
    cards = {card["signoff"].dimension: card for card in response.context["cards"]}
    for dimension in (Dimension.IAM, Dimension.SECURITY, Dimension.COMPLIANCE):
        assert cards[dimension]["badge"] == "Closed"
        assert cards[dimension]["why"] == "Closed: rejected by pam1 (PAM)."
    assert cards[Dimension.PAM]["badge"] == "Rejected"


def test_a_superseded_version_says_why_nobody_decides_it(client, workflow, agent, owner):
    first = workflow.submit(agent)
    workflow.submit(agent)
    client.force_login(owner)
    response = client.get(reverse("package-detail", args=[agent.slug, first.version]))
    cards = response.context["cards"]
    assert {card["badge"] for card in cards} == {"Closed"}
    assert {card["why"] for card in cards} == {
        "Closed: not decided before the version was superseded."
    }


@pytest.mark.parametrize(
    ("verdict", "held"), [(Verdict.REJECT, "Closed"), (Verdict.REQUEST_CHANGES, "On hold")]
)
def test_the_agents_version_history_names_the_undecided_signoffs_as_the_package_page_does(
    client, workflow, agent, owner, verdict, held
):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM)
    workflow.decide(package, Dimension.PAM, verdict=verdict, comment="Static secrets.")
    client.force_login(owner)
    html = client.get(reverse("agent-detail", args=[agent.slug])).content.decode()
    history = html.split('id="versions-title"', 1)[1].split("</table>", 1)[0]
    assert (
        f'<span class="badge waiting" title="Security: {held}">Security'
        f'<span class="visually-hidden">: {held}</span></span>'
    ) in history
    assert 'title="IAM: Approved"' in history
    assert "Pending" not in history
