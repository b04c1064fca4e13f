"""After changes are requested, the owner sees who asked, for what, and that the rest waits."""

import pytest
from django.urls import reverse

from signoffs.models import Dimension, Verdict

pytestmark = pytest.mark.django_db


def test_after_changes_requested_the_other_cards_wait_for_a_new_version(
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
    waiting = {dimension for dimension, card in cards.items() if card["waiting"]}
    assert waiting == {Dimension.PAM, Dimension.COMPLIANCE}
    assert not any(card["open"] for card in cards.values())
    for dimension in (Dimension.PAM, Dimension.COMPLIANCE):
        assert (
            f'<span class="badge waiting" data-testid="signoff-{dimension}">'
            "Waiting for a new version</span>"
        ) in html
    assert "Needed again" not in html and ">Pending<" not in html
    reason = html.split('data-testid="state-reason"', 1)[1].split("</div>", 1)[0]
    assert "by <strong>security2</strong>" in reason
    assert '<a href="#signoff-security">Security</a>' in reason
    assert "Narrow the ticket scope to read." in reason
