"""A decision the review page refuses says why at the top of the decision form, focused:
the page comes back at its top otherwise, and the reason sits below the whole checklist."""

import re

import pytest
from django.urls import reverse

from signoffs.models import Decision, Dimension

pytestmark = pytest.mark.django_db


def decide_url(package, dimension):
    return reverse("package-decide", args=[package.agent.slug, package.version, dimension])


def summary_of(html: str, dimension: str) -> str:
    """Return the body of the dimension's focused error summary, checking where it stands."""
    match = re.search(
        rf'<div class="callout bad error-summary" id="errors-{dimension}"([^>]*)>(.*?)</div>',
        html,
        re.S,
    )
    assert match, "no error summary"
    attributes, body = match.groups()
    assert 'tabindex="-1"' in attributes and "autofocus" in attributes
    section = html.index(f'id="decide-{dimension}"')
    assert section < match.start() < html.index("<legend>Checklist</legend>", section)
    return body


def test_a_refusal_without_a_comment_is_named_at_the_top_of_the_decision(
    client, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.SECURITY][0])
    response = client.post(
        decide_url(package, Dimension.SECURITY),
        {"security-verdict": "reject", "security-comment": "", "security-item_SEC-1": "on"},
    )
    assert response.status_code == 400
    body = summary_of(response.content.decode(), Dimension.SECURITY)
    assert "Not recorded" in body
    assert '<a href="#id_security-comment">Comment</a>: A comment is required to refuse.' in body
    assert not Decision.objects.exists()


def test_an_approval_missing_a_required_item_names_the_item_at_the_top(
    client, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    answers = workflow.answers(package, Dimension.IAM)
    first = sorted(answers)[0]
    data = {"iam-verdict": "approve", "iam-confirmed": "1", "iam-comment": ""}
    data.update({f"iam-item_{code}": "on" for code in answers if code != first})
    response = client.post(decide_url(package, Dimension.IAM), data)
    assert response.status_code == 400
    body = summary_of(response.content.decode(), Dimension.IAM)
    assert (
        f'<a href="#id_iam-item_{first}">{first}</a>: '
        "Approving needs this required item answered yes."
    ) in body
